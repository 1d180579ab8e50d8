/*
 * FactorNet fan-out:
 *
 *   samplesheet ── PREPARE (per cell type × track given as bam/fragments rows only: alignments → bigWig)
 *   samplesheet ─┬─ BIN (per TF: DREAM labels of the target cell types, for evaluation)
 *                └─ TRAIN (per TF × seed; or per seed with --multitask)
 *                     └─ PREDICT (per model × target cell type × chromosome shard)
 *                          └─ MERGE (per model × cell type) ─ BAG (over seeds) ─ EVALUATE (where labels exist)
 *   BASELINE (per TF × target cell type × --baselines method) ─┘ (scored next to the bagged model)
 *                     └─ INTERPRETMOTIFS (per model of the first seed, in its first training cell type)
 *
 * Each process gets only the samplesheet rows it needs (rows without paths as a value, their files staged
 * under inputs/f<i>/, and the module writes a samplesheet pointing there), so changing one cell type's files
 * re-runs only the tasks that read them under -resume.
 */
include { SAMPLESHEET               } from '../subworkflows/local/samplesheet/main'
include { csvParam                  } from '../subworkflows/local/params/main'
include { PREPARE_TRACKS            } from '../subworkflows/local/prepare_tracks/main'
include { FACTORNET_BIN             } from '../modules/local/factornet/bin/main'
include { FACTORNET_TRAIN           } from '../modules/local/factornet/train/main'
include { FACTORNET_PREDICT         } from '../modules/local/factornet/predict/main'
include { FACTORNET_MERGE           } from '../modules/local/factornet/merge/main'
include { FACTORNET_BAG             } from '../modules/local/factornet/bag/main'
include { FACTORNET_EVALUATE        } from '../modules/local/factornet/evaluate/main'
include { FACTORNET_BASELINE        } from '../modules/local/factornet/baseline/main'
include { FACTORNET_INTERPRETMOTIFS } from '../modules/local/factornet/interpretmotifs/main'

/*
 * The rows a process needs: [ rows without paths (cell_type, kind, name), their files ], in the same order.
 */
def selectRows(List rows, Closure keep) {
    def sel = rows.findAll(keep)
    return [sel.collect { r -> [cell_type: r.cell_type, kind: r.kind, name: r.name] }, sel.collect { r -> r.path }]
}

/*
 * What to train, predict and evaluate, from the parameters and the parsed samplesheet; fails early with
 * a message naming the parameter to fix. The selection rules are factornet_core.samplesheet's
 * (select_tf / select_multi_task), restated here because Groovy cannot call the Python library before
 * any task runs: a TF needs conservative peaks in the training cell types; multi-task uses one cell type.
 */
def planRun(Map sheet, List rows) {
    def cells = sheet.cell_types
    def trainCells = csvParam(params.train_cells)
    if (!trainCells) {
        error("give --train_cells (comma-separated cell types to train on; the samplesheet has: ${cells.join(', ')})")
    }
    def targetCells = csvParam(params.target_cells) ?: (cells - trainCells)
    if (!targetCells) {
        error("give --target_cells: every cell type in the samplesheet is a training cell type")
    }
    (trainCells + targetCells).unique().each { c ->
        if (!(c in cells)) {
            error("cell type '${c}' (--train_cells/--target_cells) is not in the samplesheet (it has: ${cells.join(', ')})")
        }
    }
    def withPeaks = { tf -> rows.findAll { r -> r.kind == 'conservative' && r.name == tf }.collect { r -> r.cell_type } }
    def tfs = csvParam(params.tfs) ?: sheet.tfs
    tfs.each { tf ->
        if (!withPeaks(tf).any { c -> c in trainCells }) {
            error("TF '${tf}' (--tfs) has no conservative peaks in the training cell types ${trainCells.join(', ')}")
        }
    }
    def seeds = csvParam(params.seeds).collect { s -> s as Integer }
    if (!seeds) {
        error("give --seeds (comma-separated integers, e.g. 1,2: one model per seed, bagged)")
    }
    if (params.multitask && trainCells.size() != 1) {
        error("--multitask trains on one cell type (as 'factornet train' without --tf); --train_cells has ${trainCells.size()}: ${trainCells.join(', ')}")
    }
    def models = params.multitask
        ? [[model: 'multitask', tf: null, tfs: tfs]]
        : tfs.collect { tf -> [model: tf, tf: tf, tfs: [tf]] }
    return [trainCells: trainCells, targetCells: targetCells, tfs: tfs, seeds: seeds, models: models, withPeaks: withPeaks]
}

workflow FACTORNET {
    take:
    ch_samplesheet // channel: path(samplesheet.tsv)
    ch_genome      // value channel: [ path(fasta), [ path(fasta.fai), path(fasta.gzi) ] ] (index files may be absent)
    refs           // Map of reference files, each a file or [] (not given): blacklist, gtf, cpg, annotation_beds,
                   // motif_file, known_motifs; passed to the processes as path inputs (staged into each task)

    main:
    SAMPLESHEET(ch_samplesheet)

    // one line per samplesheet row: what the pipeline understood, for the user to check
    SAMPLESHEET.out.sheet
        .flatMap { meta, rows, _files -> rows.collect { r -> "${meta.id}\t${r.cell_type}\t${r.kind}\t${r.name}\t${r.path}\n" } }
        .collectFile(
            name: 'samplesheet_summary.tsv',
            storeDir: "${params.outdir}/pipeline_info",
            seed: "samplesheet\tcell_type\tkind\tname\tpath\n",
            sort: true,
        )

    // ---------------------------------------------------------------- PREPARE: alignments → track bigWig
    // per cell type × track named only by bam/fragments rows (a track row of the same name wins)
    PREPARE_TRACKS(SAMPLESHEET.out.sheet, ch_genome, refs.blacklist)
    ch_sheet = PREPARE_TRACKS.out.sheet

    ch_plan = ch_sheet.map { meta, rows, _files -> [meta, rows, planRun(meta, rows)] }

    // chromosome shards for PREDICT: --predict_chroms, else one per chromosome of the genome index, else one shard
    ch_shards = ch_genome.map { _fasta, index ->
        def listed = csvParam(params.predict_chroms)
        def fai = (index instanceof List ? index : [index]).find { f -> f.name.endsWith('.fai') }
        def chroms = listed ?: (fai ? fai.readLines().findAll { l -> l.trim() }.collect { l -> l.tokenize('\t')[0] } : [])
        chroms ? chroms.collect { c -> [c] } : [null]
    }

    // ---------------------------------------------------------------- TRAIN: per model (TF or multi-task) × seed
    ch_train = ch_plan.flatMap { _meta, rows, plan ->
        plan.models.collectMany { m ->
            def sel = selectRows(rows) { r ->
                r.cell_type in plan.trainCells && (r.kind in ['track', 'expression'] || (r.kind in ['conservative', 'relaxed'] && r.name in m.tfs))
            }
            plan.seeds.collect { s ->
                [[id: "${m.model}.seed${s}", model: m.model, tf: m.tf, tfs: m.tfs, seed: s, train_cells: plan.trainCells], sel[0], sel[1]]
            }
        }
    }
    FACTORNET_TRAIN(ch_train, ch_genome, refs.blacklist, refs.gtf, refs.cpg, refs.annotation_beds, refs.motif_file)

    // ---------------------------------------------------------------- PREDICT: per model × target cell × shard
    ch_targets = ch_plan.flatMap { _meta, rows, plan ->
        plan.targetCells.collect { c ->
            def sel = selectRows(rows) { r -> r.cell_type == c && r.kind in ['track', 'expression'] }
            [c, sel[0], sel[1]]
        }
    }
    ch_predict = FACTORNET_TRAIN.out.model
        .combine(ch_targets)
        .combine(ch_shards.map { shards -> [shards] })
        .flatMap { meta, model, cell, rows, files, shards ->
            def order = shards.findAll { s -> s }.collectMany { s -> s }
            shards.collect { s ->
                def id = "${meta.id}.${cell}" + (s ? ".${s.join('_')}" : '')
                [meta + [id: id, cell: cell, chroms: s, chrom_order: order ?: null, n_shards: shards.size()], model, rows, files]
            }
        }
    FACTORNET_PREDICT(ch_predict, ch_genome, refs.blacklist, refs.gtf, refs.cpg, refs.annotation_beds)

    // ---------------------------------------------------------------- MERGE: the shards of one model × cell
    ch_merge = FACTORNET_PREDICT.out.predictions
        .map { meta, pred -> [groupKey("${meta.model}.seed${meta.seed}.${meta.cell}".toString(), meta.n_shards), meta, pred] }
        .groupTuple()
        .map { key, metas, preds ->
            def m = metas[0]
            def ordered = [metas, preds].transpose().sort { a, b -> m.chrom_order ? (m.chrom_order.indexOf(a[0].chroms?.getAt(0)) <=> m.chrom_order.indexOf(b[0].chroms?.getAt(0))) : 0 }
            [m.findAll { k, _v -> !(k in ['chroms', 'n_shards']) } + [id: key.toString()], ordered.collect { p -> p[1] }]
        }
    FACTORNET_MERGE(ch_merge)

    // ---------------------------------------------------------------- BAG: the seeds of one model × cell
    ch_bag_in = FACTORNET_MERGE.out.predictions
        .map { meta, pred -> [groupKey("${meta.model}.${meta.cell}".toString(), csvParam(params.seeds).size()), meta, pred] }
        .groupTuple()
        .map { key, metas, preds ->
            def sorted = [metas, preds].transpose().sort { a, b -> a[0].seed <=> b[0].seed }
            def m = metas[0].findAll { k, _v -> !(k in ['seed']) } + [id: "${key}.bag", seeds: sorted.collect { p -> p[0].seed }]
            [m, sorted.collect { p -> p[1] }]
        }
        .branch { meta, preds ->
            bag: preds.size() > 1
                return [meta, preds]
            single: true
                return [meta + [id: "${meta.model}.${meta.cell}".toString()], preds[0]]
        }
    FACTORNET_BAG(ch_bag_in.bag)
    ch_bagged = FACTORNET_BAG.out.predictions.mix(ch_bag_in.single)

    // ---------------------------------------------------------------- BIN: labels of the target cells, per TF
    ch_bin = ch_plan.flatMap { _meta, rows, plan ->
        plan.models.collectMany { m -> m.tfs }.unique().collect { tf ->
            def cells = plan.targetCells.findAll { c -> c in plan.withPeaks(tf) }
            def sel = selectRows(rows) { r ->
                r.cell_type in cells && (r.kind == 'track' || (r.kind in ['conservative', 'relaxed'] && r.name == tf))
            }
            [[id: tf, tf: tf, cells: cells, chroms: csvParam(params.predict_chroms) ?: null], sel[0], sel[1]]
        }.findAll { b -> b[0].cells }
    }
    FACTORNET_BIN(ch_bin, ch_genome, refs.blacklist)

    // ---------------------------------------------------------------- BASELINE: reference predictors, per TF × target cell
    ch_baseline = ch_plan.flatMap { _meta, rows, plan ->
        plan.tfs.collectMany { tf ->
            def trainCells = plan.trainCells.findAll { t -> t in plan.withPeaks(tf) }
            plan.targetCells.collectMany { c ->
                csvParam(params.baselines).collect { m ->
                    def sel = selectRows(rows) { r ->
                        (r.cell_type == c && r.kind == 'track') || (m == 'gbm' && r.cell_type in trainCells && (r.kind == 'track' || (r.kind in ['conservative', 'relaxed'] && r.name == tf)))
                    }
                    [[id: "${tf}.${c}.${m}".toString(), tf: tf, tfs: [tf], cell: c, method: m, chroms: csvParam(params.predict_chroms) ?: null, train_cells: trainCells], sel[0], sel[1]]
                }
            }
        }
    }
    FACTORNET_BASELINE(ch_baseline, ch_genome, refs.blacklist, refs.motif_file)
    ch_baselines = FACTORNET_BASELINE.out.predictions
        .map { meta, pred -> [meta.tf, meta.cell, meta.method, pred] }
        .toList()
        .map { all -> [all] }

    // ---------------------------------------------------------------- EVALUATE: every model and bag with labels;
    // a single-task bag side by side with the baselines of its TF and cell type
    ch_labels = FACTORNET_BIN.out.labels
        .map { meta, labels -> [meta.tf, meta.cells, labels] }
        .toList()
        .map { all -> [all] }
    ch_evaluate = FACTORNET_MERGE.out.predictions
        .map { meta, pred -> [meta, pred, false] }
        .mix(ch_bagged.map { meta, pred -> [meta, pred, true] })
        .combine(ch_labels)
        .combine(ch_baselines)
        .map { meta, pred, isBag, labels, bases ->
            def use = labels.findAll { tf, cells, _f -> tf in meta.tfs && meta.cell in cells }
            def extra = isBag && meta.tf ? bases.findAll { tf, cell, _m, _p -> tf == meta.tf && cell == meta.cell }.sort { b -> b[2] } : []
            use ? [meta + [label_tfs: use.collect { u -> u[0] }, names: [meta.id] + extra.collect { b -> b[2] }], [pred] + extra.collect { b -> b[3] }, use.collect { u -> u[2] }] : null
        }
        .filter { e -> e != null }
    FACTORNET_EVALUATE(ch_evaluate)

    FACTORNET_EVALUATE.out.tsv
        .map { _meta, tsv -> tsv }
        .collectFile(name: 'metrics_summary.tsv', storeDir: "${params.outdir}/evaluate", keepHeader: true, skip: 1, sort: true)

    // ---------------------------------------------------------------- INTERPRET: motifs of the first seed's models
    if (params.interpret) {
        ch_interpret = FACTORNET_TRAIN.out.model
            .combine(ch_plan)
            .filter { meta, _model, _smeta, _rows, plan -> meta.seed == plan.seeds[0] }
            .map { meta, model, _smeta, rows, _plan ->
                def cell = meta.train_cells[0]
                def peaks = rows.find { r -> r.cell_type == cell && r.kind == 'conservative' && r.name in meta.tfs }
                def sel = selectRows(rows) { r -> r.cell_type == cell && r.kind in ['track', 'expression'] }
                [meta + [id: "${meta.model}.${cell}".toString(), cell: cell], model, peaks.path, sel[0], sel[1]]
            }
        FACTORNET_INTERPRETMOTIFS(ch_interpret, ch_genome, refs.known_motifs)
    }
    // software versions: every module emits them on the `versions` topic; main.nf writes software_versions.yml

    emit:
    models      = FACTORNET_TRAIN.out.model     // channel: [ val(meta), path(model.keras) ]
    predictions = ch_bagged                      // channel: [ val(meta), path(predictions.tsv.gz) ], per model × cell
    metrics     = FACTORNET_EVALUATE.out.json    // channel: [ val(meta), path(metrics.json) ]
}
