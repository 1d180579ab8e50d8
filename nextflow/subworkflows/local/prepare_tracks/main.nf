/*
 * Alignments → tracks, for every workflow that reads a samplesheet's tracks (the default workflow and -entry IMPUTE):
 *
 *   samplesheet rows ── PREPARE (per cell type × track named only by bam/fragments rows: alignments → bigWig)
 *                   └── the same rows with the prepared bigWigs as `track` rows in place of the alignment rows
 *
 * A track row of the same cell type and name wins: its bam/fragments rows are dropped, not prepared. PREPARE calls
 * `factornet prepare` with its default normalisation (5′ cut sites at 1x coverage, the paper's recipe), --assay
 * from params.assay for bam rows, and params.prepare_args (conf/modules.config) for anything else.
 */
include { FACTORNET_PREPARE } from '../../../modules/local/factornet/prepare/main'

/*
 * The PREPARE tasks a samplesheet asks for: one per cell type × track named by bam/fragments rows only.
 *
 * rows   : the parsed samplesheet rows, Maps [cell_type:, kind:, name:, path:] (parseSamplesheet)
 * assay  : 'dnase' or 'atac', the --assay of bam rows
 * Returns: a List of [ [id: '<cell>.<track>', cell:, track:, kind: 'bam'|'fragments', assay:], [ path, ... ] ],
 *          the alignment files of one cell type × track (replicates pooled in one task), in samplesheet order
 */
def prepareTasks(List rows, assay) {
    def hasTrack = { r -> rows.any { t -> t.kind == 'track' && t.cell_type == r.cell_type && t.name == r.name } }
    return rows.findAll { r -> r.kind in ['bam', 'fragments'] && !hasTrack(r) }
        .groupBy { r -> [r.cell_type, r.name] }
        .collect { key, rs ->
            def meta = [id: "${key[0]}.${key[1]}".toString(), cell: key[0], track: key[1], kind: rs[0].kind, assay: assay]
            [meta, rs.collect { r -> r.path }]
        }
}

/*
 * The samplesheet rows with the alignment rows (bam, fragments) replaced by the prepared tracks.
 *
 * rows     : the parsed samplesheet rows, Maps [cell_type:, kind:, name:, path:]
 * prepared : track rows [cell_type:, kind: 'track', name:, path: the prepared bigWig], one per PREPARE task
 * Returns  : [rows, their paths], the other rows in samplesheet order and the prepared tracks after them
 */
def withPreparedTracks(List rows, List prepared) {
    def all = rows.findAll { r -> !(r.kind in ['bam', 'fragments']) } + prepared
    return [all, all.collect { r -> r.path }]
}

workflow PREPARE_TRACKS {
    take:
    ch_sheet  // channel: [ val(meta), val(rows), [ path(file), ... ] ], a parsed samplesheet (SAMPLESHEET.out.sheet)
    ch_genome // value channel: [ path(fasta), [ path(fasta.fai), path(fasta.gzi) ] ] (index files may be absent)
    blacklist // path: BED of regions whose reads PREPARE drops, or [] (not given)

    main:
    FACTORNET_PREPARE(ch_sheet.flatMap { _meta, rows, _files -> prepareTasks(rows, params.assay) }, ch_genome, blacklist)
    // every prepared track, as one list (empty when nothing is prepared), joined to each samplesheet
    ch_prepared = FACTORNET_PREPARE.out.bigwig
        .map { meta, bw -> [cell_type: meta.cell, kind: 'track', name: meta.track, path: bw] }
        .toList()
    ch_tracks = ch_sheet
        .combine(ch_prepared.map { prepared -> [prepared] })
        .map { meta, rows, _files, prepared -> [meta] + withPreparedTracks(rows, prepared) }

    emit:
    sheet  = ch_tracks                    // channel: [ val(meta), val(rows), [ path(file), ... ] ], no bam/fragments rows
    bigwig = FACTORNET_PREPARE.out.bigwig // channel: [ val(meta), path(<cell>.<track>.bw) ]
    qc     = FACTORNET_PREPARE.out.qc     // channel: [ val(meta), path(<cell>.<track>.bw.qc.json) ]
}
