/*
 * Read the CONTRACT samplesheet (factornet_core/samplesheet.py is the reference reader):
 *
 *   cell_type <TAB> kind <TAB> name <TAB> path
 *
 * kind ∈ track | conservative | relaxed | expression | labels | bam | fragments (alignments, made into
 * the track `name` by FACTORNET_PREPARE when the cell type has no track row of that name); name is the track name (track),
 * the TF (conservative, relaxed, labels) or '.' (expression); paths are relative to the
 * samplesheet's folder; lines starting with '#' are ignored. Parsed with splitCsv (no nf-schema
 * plugin: the test profile runs with the network closed).
 *
 * Because the samplesheet names its files by relative path, a process cannot simply stage the
 * sheet: each process stages its rows' files under inputs/f<i>/ and writes a copy of the sheet whose
 * paths point there (stagedSamplesheet in modules/local/factornet/functions.nf, shared by the modules).
 */

/*
 * Validate one splitCsv row (a Map) and return it with `path` resolved against the samplesheet's folder.
 */
def checkSamplesheetRow(Map row, sheet, int line) {
    def where = "samplesheet ${sheet}, data row ${line}"
    ['cell_type', 'kind', 'name', 'path'].each { col ->
        if (row[col] == null) {
            error("${where}: column '${col}' is missing; the header must be: cell_type<TAB>kind<TAB>name<TAB>path")
        }
        if (!row[col]?.trim()) {
            error("${where}: column '${col}' is empty")
        }
    }
    if (!(row.kind in ['track', 'conservative', 'relaxed', 'expression', 'labels', 'bam', 'fragments'])) {
        error("${where}: kind '${row.kind}' is not one of track, conservative, relaxed, expression, labels, bam, fragments")
    }
    if (row.kind == 'expression' && row.name != '.') {
        error("${where}: an expression row must have name '.' (got '${row.name}')")
    }
    def f = row.path.startsWith('/') ? file(row.path) : sheet.parent.resolve(row.path)
    if (!f.exists()) {
        error("${where}: file '${row.path}' does not exist (paths are relative to the samplesheet's folder)")
    }
    return [cell_type: row.cell_type.trim(), kind: row.kind.trim(), name: row.name.trim(), path: f]
}

/*
 * Parse one samplesheet into [meta, rows, files]; rows are validated Maps with absolute paths.
 */
def parseSamplesheet(sheet) {
    // leading '#' or blank lines come before the header: skip them; later '#' rows are dropped
    def skip = sheet.readLines().takeWhile { l -> !l.trim() || l.startsWith('#') }.size()
    def raw = sheet.splitCsv(header: true, sep: '\t', skip: skip)
        .findAll { row -> !(row.cell_type ?: '').startsWith('#') && row.values().any { v -> v?.trim() } }
    if (!raw) {
        error("samplesheet ${sheet} has no data rows (header: cell_type<TAB>kind<TAB>name<TAB>path)")
    }
    def rows = raw.withIndex().collect { row, i -> checkSamplesheetRow(row, sheet, i + 1) }
    def meta = [
        id         : sheet.baseName,
        cell_types : rows.collect { r -> r.cell_type }.unique(),
        tfs        : rows.findAll { r -> r.kind in ['conservative', 'labels'] }.collect { r -> r.name }.unique(),
        tracks     : rows.findAll { r -> r.kind in ['track', 'bam', 'fragments'] }.collect { r -> r.name }.unique(),
    ]
    return [meta, rows, rows.collect { r -> r.path }]
}

workflow SAMPLESHEET {
    take:
    ch_samplesheet // channel: path(samplesheet.tsv)

    main:
    ch_sheet = ch_samplesheet.map { sheet -> parseSamplesheet(sheet) }

    emit:
    sheet = ch_sheet                                                 // channel: [ val(meta), val(rows), [ path(file), ... ] ]
    rows  = ch_sheet.flatMap { _meta, rows, _files -> rows }         // channel: [cell_type:, kind:, name:, path:]
}
