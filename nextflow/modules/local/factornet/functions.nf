/*
 * Helpers shared by the factornet modules; each module's main.nf includes what it uses:
 *   include { stagedSamplesheet } from '../functions'
 * (the nf-core `functions.nf` layout of early DSL2 modules: one copy for the suite instead of one per module).
 */

/*
 * The shell line that writes the task's samplesheet.tsv (the CONTRACT header, one line per row) with each row's path
 * replaced by its file as staged in the task folder (`inputs/f<i>/<name>`).
 *
 * Why: a samplesheet names its files by paths relative to itself, so a process cannot stage the user's sheet;
 * the workflows pass the rows it needs without paths (`rows`) and their files (`files`, staged in the same order).
 *
 * rows  : List of Maps [cell_type:, kind:, name:]
 * files : the staged files, one per row (a single file when there is one row)
 */
def stagedSamplesheet(List rows, files) {
    def staged = files instanceof List ? files : [files]
    if (rows.size() != staged.size()) {
        error("stagedSamplesheet: ${rows.size()} samplesheet rows but ${staged.size()} staged files")
    }
    def lines = ['cell_type\tkind\tname\tpath'] + [rows, staged].transpose().collect { r, f -> "${r.cell_type}\t${r.kind}\t${r.name}\t${f}" }
    return "printf '%s\\n' ${lines.collect { l -> "'${l}'" }.join(' ')} > samplesheet.tsv"
}

/*
 * `--flag FILE` for an optional path input (a staged file or folder), '' for `[]`.
 */
def optionalFile(String flag, file) {
    def given = file instanceof List ? file : (file ? [file] : [])
    return given ? "${flag} ${given.join(' ')}" : ''
}
