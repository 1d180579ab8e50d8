/*
 * Impute TF binding in one cell type with many models (e.g. the published FactorNet models):
 *
 *   samplesheet rows of --impute_cell ── PREPARE (per track given as bam/fragments rows only: alignments → bigWig)
 *   tracks, expression + models ─ IMPUTE (per chromosome shard)
 *        └─ MERGE (the shards, in genome order) ─ CALL (narrowPeak, one name per TF column)
 *
 * Every model sees each window once per shard task (factornet impute reads it once for all of them). Only the
 * impute cell type's rows are read: other cell types' alignments are not prepared.
 */
include { SAMPLESHEET      } from '../subworkflows/local/samplesheet/main'
include { PREPARE_TRACKS   } from '../subworkflows/local/prepare_tracks/main'
include { csvParam         } from '../subworkflows/local/params/main'
include { FACTORNET_IMPUTE } from '../modules/local/factornet/impute/main'
include { FACTORNET_MERGE  } from '../modules/local/factornet/merge/main'
include { FACTORNET_CALL   } from '../modules/local/factornet/call/main'

/*
 * Chromosome shards: --predict_chroms, else one per chromosome of the genome index, else one shard (null).
 */
def imputeShards(index) {
    def listed = csvParam(params.predict_chroms)
    def fai = (index instanceof List ? index : [index]).find { f -> f.name.endsWith('.fai') }
    def chroms = listed ?: (fai ? fai.readLines().findAll { l -> l.trim() }.collect { l -> l.tokenize('\t')[0] } : [])
    return chroms ? chroms.collect { c -> [c] } : [null]
}

workflow FACTORNET_IMPUTE_CELL {
    take:
    ch_samplesheet // channel: path(samplesheet.tsv)
    ch_genome      // value channel: [ path(fasta), [ path(fasta.fai), path(fasta.gzi) ] ]
    ch_models      // channel: path(model.keras), one item per model
    cell           // val: the cell type to impute
    refs           // Map of reference files, each a file or [] (not given): blacklist, gtf, cpg, annotation_beds, meta_values

    main:
    SAMPLESHEET(ch_samplesheet)
    ch_cell_sheet = SAMPLESHEET.out.sheet.map { meta, rows, _files ->
        if (!(cell in meta.cell_types)) {
            error("--impute_cell '${cell}' is not in the samplesheet (it has: ${meta.cell_types.join(', ')})")
        }
        def own = rows.findAll { r -> r.cell_type == cell }
        [meta, own, own.collect { r -> r.path }]
    }
    // the cell type's bam/fragments rows made into track bigWigs (a track row of the same name wins)
    PREPARE_TRACKS(ch_cell_sheet, ch_genome, refs.blacklist)
    ch_rows = PREPARE_TRACKS.out.sheet.map { _meta, rows, _files ->
        def sel = rows.findAll { r -> r.kind in ['track', 'expression'] }
        [sel.collect { r -> [cell_type: r.cell_type, kind: r.kind, name: r.name] }, sel.collect { r -> r.path }]
    }
    ch_impute = ch_rows
        .combine(ch_models.collect().map { ms -> [ms] })
        .combine(ch_genome.map { _fasta, index -> [imputeShards(index)] })
        .flatMap { rows, files, models, shards ->
            def order = shards.findAll { s -> s }.collect { s -> s[0] }
            shards.collect { s ->
                [[id: s ? "${cell}.${s[0]}" : cell, cell: cell, chroms: s, chrom_order: order ?: null], models, rows, files]
            }
        }
    FACTORNET_IMPUTE(ch_impute, ch_genome, refs.blacklist, refs.gtf, refs.cpg, refs.annotation_beds, refs.meta_values)

    ch_merge = FACTORNET_IMPUTE.out.predictions
        .map { m, p -> [m.cell, m, p] }
        .groupTuple()
        .map { c, metas, preds ->
            def order = metas[0].chrom_order
            def ordered = [metas, preds].transpose().sort { a, b -> order ? (order.indexOf(a[0].chroms?.getAt(0)) <=> order.indexOf(b[0].chroms?.getAt(0))) : 0 }
            [[id: c, cell: c, chrom_order: order], ordered.collect { x -> x[1] }]
        }
    FACTORNET_MERGE(ch_merge)

    FACTORNET_CALL(FACTORNET_MERGE.out.predictions, refs.blacklist)

    emit:
    tracks      = PREPARE_TRACKS.out.bigwig       // channel: [ val(meta), path(<cell>.<track>.bw) ], the prepared tracks
    predictions = FACTORNET_MERGE.out.predictions // channel: [ val(meta), path(predictions.tsv.gz) ]
    peaks       = FACTORNET_CALL.out.peaks        // channel: [ val(meta), path(calls.narrowPeak) ]
}
