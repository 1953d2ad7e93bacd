// The only module that talks to Tauri. Each function sends one request struct and returns the
// typed answer; failures are thrown as `IpcFailure` carrying the tagged `IpcError` (its
// `kind` says offline / forbidden / notFound / invalidInput / conflict / unauthorized /
// internal). Types come from `./bindings`, generated from Rust by ts-rs.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type { AppInfo } from "./bindings/AppInfo";
import type { UiLanguage } from "./bindings/UiLanguage";
import type { AddLessonRequest } from "./bindings/AddLessonRequest";
import type { ChangeLessonRequest } from "./bindings/ChangeLessonRequest";
import type { AddTopicRequest } from "./bindings/AddTopicRequest";
import type { AdjustMarkRequest } from "./bindings/AdjustMarkRequest";
import type { CellHistoryEntry } from "./bindings/CellHistoryEntry";
import type { CellHistoryRequest } from "./bindings/CellHistoryRequest";
import type { OpenLessonRequest } from "./bindings/OpenLessonRequest";
import type { OpeningRequestEntry } from "./bindings/OpeningRequestEntry";
import type { RequestOpeningRequest } from "./bindings/RequestOpeningRequest";
import type { ChooseExportPathRequest } from "./bindings/ChooseExportPathRequest";
import type { ChosenPath } from "./bindings/ChosenPath";
import type { EnterScoreRequest } from "./bindings/EnterScoreRequest";
import type { GridScore } from "./bindings/GridScore";
import type { LockLessonRequest } from "./bindings/LockLessonRequest";
import type { OverruledEntry } from "./bindings/OverruledEntry";
import type { UnlockLessonRequest } from "./bindings/UnlockLessonRequest";
import type { ClearCellRequest } from "./bindings/ClearCellRequest";
import type { ConflictEntry } from "./bindings/ConflictEntry";
import type { ExportJournalRequest } from "./bindings/ExportJournalRequest";
import type { ExportStatementRequest } from "./bindings/ExportStatementRequest";
import type { ExportResult } from "./bindings/ExportResult";
import type { GridPatch } from "./bindings/GridPatch";
import type { GroupDetail } from "./bindings/GroupDetail";
import type { GroupSummary } from "./bindings/GroupSummary";
import type { IpcError } from "./bindings/IpcError";
import type { JournalGrid } from "./bindings/JournalGrid";
import type { JournalReport } from "./bindings/JournalReport";
import type { GetStandingRequest } from "./bindings/GetStandingRequest";
import type { GetDebtorsRequest } from "./bindings/GetDebtorsRequest";
import type { ImportHemisRequest } from "./bindings/ImportHemisRequest";
import type { HemisImportResult } from "./bindings/HemisImportResult";
import type { HemisProgress } from "./bindings/HemisProgress";
import type { DebtorEntry } from "./bindings/DebtorEntry";
import type { StandingReport } from "./bindings/StandingReport";
import type { JournalSummary } from "./bindings/JournalSummary";
import type { JournalVersion } from "./bindings/JournalVersion";
import type { MarkCellRequest } from "./bindings/MarkCellRequest";
import type { MarkLessonRequest } from "./bindings/MarkLessonRequest";
import type { ModuleDetail } from "./bindings/ModuleDetail";
import type { AttachMaterialRequest } from "./bindings/AttachMaterialRequest";
import type { RemoveMaterialRequest } from "./bindings/RemoveMaterialRequest";
import type { OpenedMaterial } from "./bindings/OpenedMaterial";
import type { ModuleSummary } from "./bindings/ModuleSummary";
import type { RenameTopicRequest } from "./bindings/RenameTopicRequest";
import type { ResolutionEntry } from "./bindings/ResolutionEntry";
import type { ResolveConflictRequest } from "./bindings/ResolveConflictRequest";
import type { SetTopicRequest } from "./bindings/SetTopicRequest";
import type { SignInRequest } from "./bindings/SignInRequest";
import type { SignInResponse } from "./bindings/SignInResponse";
import type { SyncStatus } from "./bindings/SyncStatus";

export type * from "./bindings/AppInfo";
export type * from "./bindings/CellHistoryEntry";
export type * from "./bindings/OpeningRequestEntry";
export type * from "./bindings/ConflictEntry";
export type * from "./bindings/ConflictValue";
export type * from "./bindings/GridCell";
export type * from "./bindings/GridLesson";
export type * from "./bindings/GridPatch";
export type * from "./bindings/GridScore";
export type * from "./bindings/ModuleControl";
export type * from "./bindings/OverruledEntry";
export type * from "./bindings/GridStudent";
export type * from "./bindings/GroupDetail";
export type * from "./bindings/GroupSummary";
export type * from "./bindings/IpcError";
export type * from "./bindings/JournalGrid";
export type * from "./bindings/JournalReport";
export type * from "./bindings/StandingReport";
export type * from "./bindings/StandingEntry";
export type * from "./bindings/JournalSummary";
export type * from "./bindings/LessonReport";
export type * from "./bindings/PlannedHours";
export type * from "./bindings/DebtorEntry";
export type * from "./bindings/HemisImportResult";
export type * from "./bindings/ModuleDetail";
export type * from "./bindings/ModuleMaterial";
export type * from "./bindings/ModuleSummary";
export type * from "./bindings/ModuleTopic";
export type * from "./bindings/ResolutionEntry";
export type * from "./bindings/Standing";
export type * from "./bindings/StudentReport";
export type * from "./bindings/StudentTotals";
export type * from "./bindings/SyncStatus";

/** A command failed; `error.kind` says how. */
export class IpcFailure extends Error {
  constructor(public readonly error: IpcError) {
    super(error.message);
  }
}

function asIpcError(e: unknown): IpcError {
  if (e && typeof e === "object" && "kind" in e && "message" in e) return e as IpcError;
  return { kind: "internal", message: typeof e === "string" ? e : String(e) };
}

async function call<T>(command: string, req: object): Promise<T> {
  try {
    return await invoke<T>(command, { req });
  } catch (e) {
    throw new IpcFailure(asIpcError(e));
  }
}

export const api = {
  getAppInfo: () => call<AppInfo>("get_app_info", {}),
  loadDemo: () => call<AppInfo>("load_demo", {}),
  setLanguage: (language: UiLanguage) => call<AppInfo>("set_language", { language }),
  signIn: (req: SignInRequest) => call<SignInResponse>("sign_in", req),
  signOut: (keepUnsent = false) => call<AppInfo>("sign_out", { keepUnsent }),
  getSyncStatus: () => call<SyncStatus>("get_sync_status", {}),
  syncNow: () => call<SyncStatus>("sync_now", {}),

  listJournals: () => call<JournalSummary[]>("list_journals", {}),
  openJournal: (journal: string) => call<JournalGrid>("open_journal", { journal }),
  journalVersion: (journal: string) => call<JournalVersion>("journal_version", { journal }),
  markCell: (req: MarkCellRequest) => call<GridPatch>("mark_cell", req),
  clearCell: (req: ClearCellRequest) => call<GridPatch>("clear_cell", req),
  markLesson: (req: MarkLessonRequest) => call<GridPatch>("mark_lesson", req),
  setTopic: (req: SetTopicRequest) => call<GridPatch>("set_topic", req),
  addLesson: (req: AddLessonRequest) => call<JournalGrid>("add_lesson", req),
  changeLesson: (req: ChangeLessonRequest) => call<JournalGrid>("change_lesson", req),
  enterScore: (req: EnterScoreRequest) => call<GridScore[]>("enter_score", req),
  adjustMark: (req: AdjustMarkRequest) => call<GridPatch>("adjust_mark", req),
  cellHistory: (req: CellHistoryRequest) => call<CellHistoryEntry[]>("cell_history", req),
  requestOpening: (req: RequestOpeningRequest) => call<GridPatch>("request_opening", req),
  openLesson: (req: OpenLessonRequest) => call<OpeningRequestEntry[]>("open_lesson", req),
  listOpeningRequests: (journal: string | null = null) => call<OpeningRequestEntry[]>("list_opening_requests", { journal }),
  lockLesson: (req: LockLessonRequest) => call<GridPatch>("lock_lesson", req),
  unlockLesson: (req: UnlockLessonRequest) => call<GridPatch>("unlock_lesson", req),

  listModules: () => call<ModuleSummary[]>("list_modules", {}),
  getModule: (module: string) => call<ModuleDetail>("get_module", { module }),
  addTopic: (req: AddTopicRequest) => call<ModuleDetail>("add_topic", req),
  renameTopic: (req: RenameTopicRequest) => call<ModuleDetail>("rename_topic", req),
  chooseMaterialFile: (title: string) => call<ChosenPath>("choose_material_file", { title }),
  attachMaterial: (req: AttachMaterialRequest) => call<ModuleDetail>("attach_material", req),
  removeMaterial: (req: RemoveMaterialRequest) => call<ModuleDetail>("remove_material", req),
  openMaterial: (hash: string) => call<OpenedMaterial>("open_material", { hash }),
  listGroups: () => call<GroupSummary[]>("list_groups", {}),
  getGroup: (group: string) => call<GroupDetail>("get_group", { group }),

  listConflicts: (journal: string | null = null) => call<ConflictEntry[]>("list_conflicts", { journal }),
  resolveConflict: (req: ResolveConflictRequest) => call<ConflictEntry[]>("resolve_conflict", req),
  listResolutions: (journal: string | null = null) => call<ResolutionEntry[]>("list_resolutions", { journal }),
  listOverruled: (journal: string | null = null) => call<OverruledEntry[]>("list_overruled", { journal }),

  getReport: (journal: string) => call<JournalReport>("get_report", { journal }),
  getStanding: (req: GetStandingRequest) => call<StandingReport>("get_standing", req),
  getDebtors: (req: GetDebtorsRequest) => call<DebtorEntry[]>("get_debtors", req),
  importHemis: (req: ImportHemisRequest) => call<HemisImportResult>("import_hemis", req),
  exportJournal: (req: ExportJournalRequest) => call<ExportResult>("export_journal", req),
  exportStatement: (req: ExportStatementRequest) => call<ExportResult>("export_statement", req),
  chooseExportPath: (req: ChooseExportPathRequest) => call<ChosenPath>("choose_export_path", req),
};

/** Subscribes to `sync:status-changed`. */
/** Pages fetched from HEMIS during an import. */
export function onHemisProgress(cb: (p: HemisProgress) => void): Promise<UnlistenFn> {
  return listen<HemisProgress>("hemis:progress", (event) => cb(event.payload));
}

export function onSyncStatus(cb: (status: SyncStatus) => void): Promise<UnlistenFn> {
  return listen<SyncStatus>("sync:status-changed", (event) => cb(event.payload));
}
