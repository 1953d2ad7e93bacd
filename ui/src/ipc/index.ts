// The only module that talks to Tauri. Each function sends one request struct and returns the
// typed answer; failures are thrown as `IpcFailure` carrying the tagged `IpcError` (its
// `kind` says offline / forbidden / notFound / invalidInput / conflict / unauthorized /
// internal). Types come from `./bindings`, generated from Rust by ts-rs.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type { Commands } from "./bindings/Commands";
import type { UiLanguage } from "./bindings/UiLanguage";
import type { AddLessonRequest } from "./bindings/AddLessonRequest";
import type { ChangeLessonRequest } from "./bindings/ChangeLessonRequest";
import type { AddTopicRequest } from "./bindings/AddTopicRequest";
import type { AdjustMarkRequest } from "./bindings/AdjustMarkRequest";
import type { CellHistoryRequest } from "./bindings/CellHistoryRequest";
import type { OpenLessonRequest } from "./bindings/OpenLessonRequest";
import type { RequestOpeningRequest } from "./bindings/RequestOpeningRequest";
import type { ChooseExportPathRequest } from "./bindings/ChooseExportPathRequest";
import type { EnterScoreRequest } from "./bindings/EnterScoreRequest";
import type { LockLessonRequest } from "./bindings/LockLessonRequest";
import type { UnlockLessonRequest } from "./bindings/UnlockLessonRequest";
import type { ClearCellRequest } from "./bindings/ClearCellRequest";
import type { ExportJournalRequest } from "./bindings/ExportJournalRequest";
import type { ExportStatementRequest } from "./bindings/ExportStatementRequest";
import type { IpcError } from "./bindings/IpcError";
import type { GetStandingRequest } from "./bindings/GetStandingRequest";
import type { GetDebtorsRequest } from "./bindings/GetDebtorsRequest";
import type { ImportHemisRequest } from "./bindings/ImportHemisRequest";
import type { HemisProgress } from "./bindings/HemisProgress";
import type { MarkCellRequest } from "./bindings/MarkCellRequest";
import type { MarkLessonRequest } from "./bindings/MarkLessonRequest";
import type { AttachMaterialRequest } from "./bindings/AttachMaterialRequest";
import type { RemoveMaterialRequest } from "./bindings/RemoveMaterialRequest";
import type { RenameTopicRequest } from "./bindings/RenameTopicRequest";
import type { ResolveConflictRequest } from "./bindings/ResolveConflictRequest";
import type { SetTopicRequest } from "./bindings/SetTopicRequest";
import type { SignInRequest } from "./bindings/SignInRequest";
import type { SyncStatus } from "./bindings/SyncStatus";

export type * from "./bindings/AppInfo";
export type * from "./bindings/HistoryEntry";
export type * from "./bindings/OpeningRequestView";
export type * from "./bindings/Conflict";
export type * from "./bindings/ConflictValue";
export type * from "./bindings/CellView";
export type * from "./bindings/GridLesson";
export type * from "./bindings/GridPatch";
export type * from "./bindings/GridScore";
export type * from "./bindings/ModuleControl";
export type * from "./bindings/Overruled";
export type * from "./bindings/GridStudent";
export type * from "./bindings/GroupDetail";
export type * from "./bindings/GroupSummary";
export type * from "./bindings/IpcError";
export type * from "./bindings/JournalGrid";
export type * from "./bindings/JournalReport";
export type * from "./bindings/StandingReport";
export type * from "./bindings/StudentStanding";
export type * from "./bindings/JournalSummary";
export type * from "./bindings/LessonReport";
export type * from "./bindings/HoursLine";
export type * from "./bindings/Debtor";
export type * from "./bindings/SubjectAssessment";
export type * from "./bindings/Totals";
export type * from "./bindings/Outcome";
export type * from "./bindings/Admission";
export type * from "./bindings/Debt";
export type * from "./bindings/SubjectHours";
export type * from "./bindings/Thresholds";
export type * from "./bindings/ClearedCell";
export type * from "./bindings/HemisImportResult";
export type * from "./bindings/ImportSummary";
export type * from "./bindings/ModuleDetail";
export type * from "./bindings/Material";
export type * from "./bindings/ModuleSummary";
export type * from "./bindings/ModuleTopic";
export type * from "./bindings/Resolution";
export type * from "./bindings/Level";
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

/**
 * Calls a command of the map (`bindings/Commands.ts`, generated from `crates/ipc`): the
 * compiler checks the name, the request and the answer's type.
 */
async function call<K extends keyof Commands>(command: K, req: Commands[K]["req"]): Promise<Commands[K]["res"]> {
  try {
    return await invoke<Commands[K]["res"]>(command, { req });
  } catch (e) {
    throw new IpcFailure(asIpcError(e));
  }
}

export const api = {
  getAppInfo: () => call("get_app_info", {}),
  loadDemo: () => call("load_demo", {}),
  setLanguage: (language: UiLanguage) => call("set_language", { language }),
  signIn: (req: SignInRequest) => call("sign_in", req),
  signOut: (keepUnsent = false) => call("sign_out", { keepUnsent }),
  getSyncStatus: () => call("get_sync_status", {}),
  syncNow: () => call("sync_now", {}),

  listJournals: () => call("list_journals", {}),
  openJournal: (journal: string) => call("open_journal", { journal }),
  journalVersion: (journal: string) => call("journal_version", { journal }),
  markCell: (req: MarkCellRequest) => call("mark_cell", req),
  clearCell: (req: ClearCellRequest) => call("clear_cell", req),
  markLesson: (req: MarkLessonRequest) => call("mark_lesson", req),
  setTopic: (req: SetTopicRequest) => call("set_topic", req),
  addLesson: (req: AddLessonRequest) => call("add_lesson", req),
  changeLesson: (req: ChangeLessonRequest) => call("change_lesson", req),
  enterScore: (req: EnterScoreRequest) => call("enter_score", req),
  adjustMark: (req: AdjustMarkRequest) => call("adjust_mark", req),
  cellHistory: (req: CellHistoryRequest) => call("cell_history", req),
  requestOpening: (req: RequestOpeningRequest) => call("request_opening", req),
  openLesson: (req: OpenLessonRequest) => call("open_lesson", req),
  listOpeningRequests: (journal: string | null = null) => call("list_opening_requests", { journal }),
  lockLesson: (req: LockLessonRequest) => call("lock_lesson", req),
  unlockLesson: (req: UnlockLessonRequest) => call("unlock_lesson", req),

  listModules: () => call("list_modules", {}),
  getModule: (module: string) => call("get_module", { module }),
  addTopic: (req: AddTopicRequest) => call("add_topic", req),
  renameTopic: (req: RenameTopicRequest) => call("rename_topic", req),
  chooseMaterialFile: (title: string) => call("choose_material_file", { title }),
  attachMaterial: (req: AttachMaterialRequest) => call("attach_material", req),
  removeMaterial: (req: RemoveMaterialRequest) => call("remove_material", req),
  openMaterial: (hash: string) => call("open_material", { hash }),
  listGroups: () => call("list_groups", {}),
  getGroup: (group: string) => call("get_group", { group }),

  listConflicts: (journal: string | null = null) => call("list_conflicts", { journal }),
  resolveConflict: (req: ResolveConflictRequest) => call("resolve_conflict", req),
  listResolutions: (journal: string | null = null) => call("list_resolutions", { journal }),
  listOverruled: (journal: string | null = null) => call("list_overruled", { journal }),

  getReport: (journal: string) => call("get_report", { journal }),
  getStanding: (req: GetStandingRequest) => call("get_standing", req),
  getDebtors: (req: GetDebtorsRequest) => call("get_debtors", req),
  importHemis: (req: ImportHemisRequest) => call("import_hemis", req),
  exportJournal: (req: ExportJournalRequest) => call("export_journal", req),
  exportStatement: (req: ExportStatementRequest) => call("export_statement", req),
  chooseExportPath: (req: ChooseExportPathRequest) => call("choose_export_path", req),
};

/** Subscribes to `sync:status-changed`. */
/** Pages fetched from HEMIS during an import. */
export function onHemisProgress(cb: (p: HemisProgress) => void): Promise<UnlistenFn> {
  return listen<HemisProgress>("hemis:progress", (event) => cb(event.payload));
}

export function onSyncStatus(cb: (status: SyncStatus) => void): Promise<UnlistenFn> {
  return listen<SyncStatus>("sync:status-changed", (event) => cb(event.payload));
}
