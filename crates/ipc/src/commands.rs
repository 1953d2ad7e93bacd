//! The command map: every command the shell answers, by name, with its request and response
//! types. `Commands.ts` is generated from it, so the UI's `call("name", request)` is checked
//! by the TypeScript compiler against these types; the shell's `commands_match_the_map` test
//! fails when a command is registered, renamed or retyped without this map following.

use ts_rs::TS;

use crate::camel::Camel;
use crate::*;

/// One command: its name and the TypeScript of its request and response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    /// The Rust types as written here (for the shell's drift test).
    pub rust_req: &'static str,
    pub rust_res: &'static str,
    pub ts_req: String,
    pub ts_res: String,
    /// (TypeScript name, file) of every type the entry names.
    pub imports: Vec<(String, String)>,
}

impl Entry {
    fn of<Q: TS + 'static, R: TS + 'static>(
        name: &'static str,
        rust_req: &'static str,
        rust_res: &'static str,
    ) -> Entry {
        let mut imports = Vec::new();
        add_imports::<Q>(&mut imports);
        add_imports::<R>(&mut imports);
        Entry {
            name,
            rust_req,
            rust_res,
            ts_req: Q::name(),
            ts_res: R::name(),
            imports,
        }
    }
}

/// The types the TypeScript of `T` names (`AppInfo`, `Array<JournalSummary>`, `X | null`),
/// each from the file ts-rs writes it to.
fn add_imports<T: TS + 'static>(out: &mut Vec<(String, String)>) {
    const BUILT_IN: &[&str] = &["Array", "Record", "Partial", "null", "string", "number"];
    let name = T::name();
    for word in name.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.starts_with(|c: char| c.is_ascii_uppercase()) && !BUILT_IN.contains(&word) {
            out.push((word.to_string(), word.to_string()));
        }
    }
}

macro_rules! command_map {
    ($($name:ident: $req:ty => $res:ty,)*) => {
        /// Every command's name, in the order the shell registers them.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// Every command of the map.
        pub fn entries() -> Vec<Entry> {
            vec![$(Entry::of::<$req, $res>(stringify!($name), stringify!($req), stringify!($res))),*]
        }
    };
}

command_map! {
    get_app_info: GetAppInfoRequest => AppInfo,
    load_demo: LoadDemoRequest => AppInfo,
    set_language: SetLanguageRequest => AppInfo,
    sign_in: SignInRequest => SignInResponse,
    sign_out: SignOutRequest => AppInfo,
    get_sync_status: GetSyncStatusRequest => Camel<SyncStatus>,
    sync_now: SyncNowRequest => Camel<SyncStatus>,
    list_journals: ListJournalsRequest => Camel<Vec<JournalSummary>>,
    open_journal: OpenJournalRequest => Camel<JournalGrid>,
    journal_version: JournalVersionRequest => JournalVersion,
    mark_cell: MarkCellRequest => Camel<GridPatch>,
    clear_cell: ClearCellRequest => Camel<GridPatch>,
    mark_lesson: MarkLessonRequest => Camel<GridPatch>,
    set_topic: SetTopicRequest => Camel<GridPatch>,
    add_lesson: AddLessonRequest => Camel<JournalGrid>,
    change_lesson: ChangeLessonRequest => Camel<JournalGrid>,
    enter_score: EnterScoreRequest => Camel<Vec<GridScore>>,
    adjust_mark: AdjustMarkRequest => Camel<GridPatch>,
    lock_lesson: LockLessonRequest => Camel<GridPatch>,
    unlock_lesson: UnlockLessonRequest => Camel<GridPatch>,
    list_modules: ListModulesRequest => Camel<Vec<ModuleSummary>>,
    get_module: GetModuleRequest => Camel<ModuleDetail>,
    add_topic: AddTopicRequest => Camel<ModuleDetail>,
    rename_topic: RenameTopicRequest => Camel<ModuleDetail>,
    choose_material_file: ChooseMaterialFileRequest => ChosenPath,
    attach_material: AttachMaterialRequest => Camel<ModuleDetail>,
    remove_material: RemoveMaterialRequest => Camel<ModuleDetail>,
    open_material: OpenMaterialRequest => OpenedMaterial,
    list_groups: ListGroupsRequest => Camel<Vec<GroupSummary>>,
    get_group: GetGroupRequest => Camel<GroupDetail>,
    list_conflicts: ListConflictsRequest => Camel<Vec<Conflict>>,
    resolve_conflict: ResolveConflictRequest => Camel<Vec<Conflict>>,
    list_resolutions: ListResolutionsRequest => Camel<Vec<Resolution>>,
    list_overruled: ListOverruledRequest => Camel<Vec<Overruled>>,
    cell_history: CellHistoryRequest => Camel<Vec<HistoryEntry>>,
    request_opening: RequestOpeningRequest => Camel<GridPatch>,
    open_lesson: OpenLessonRequest => Camel<Vec<OpeningRequestView>>,
    list_opening_requests: ListOpeningRequestsRequest => Camel<Vec<OpeningRequestView>>,
    get_report: GetReportRequest => Camel<JournalReport>,
    get_standing: GetStandingRequest => Camel<StandingReport>,
    get_debtors: GetDebtorsRequest => Camel<Vec<Debtor>>,
    import_hemis: ImportHemisRequest => Camel<HemisImportResult>,
    export_journal: ExportJournalRequest => ExportResult,
    export_statement: ExportStatementRequest => ExportResult,
    choose_export_path: ChooseExportPathRequest => ChosenPath,
}

/// `Commands.ts`: the map as a TypeScript interface, `name: { req; res }`.
pub fn commands_ts() -> String {
    let entries = entries();
    let mut imports: Vec<(String, String)> = entries
        .iter()
        .flat_map(|e| e.imports.iter().cloned())
        .collect();
    imports.sort();
    imports.dedup();
    let mut out = String::from(
        "// Generated from crates/ipc/src/commands.rs by the bindings test. Do not edit this file manually.\n",
    );
    for (name, path) in &imports {
        out.push_str(&format!("import type {{ {name} }} from \"./{path}\";\n"));
    }
    out.push_str(
        "\n/**\n * Every command the shell answers: its request and its response.\n */\nexport interface Commands {\n",
    );
    for e in &entries {
        out.push_str(&format!(
            "  {}: {{ req: {}; res: {} }};\n",
            e.name, e.ts_req, e.ts_res
        ));
    }
    out.push_str("}\n");
    out
}
