#!/usr/bin/env nextflow
/*
 * factornet-suite/factornet: FactorNet transcription-factor binding prediction as a Nextflow pipeline.
 *
 *   nextflow run nextflow/main.nf --input samplesheet.tsv --genome genome.fa --train_cells HepG2 \
 *       --target_cells K562 --tfs CTCF --outdir results -profile docker
 *   nextflow run nextflow/main.nf -profile test        # simulated dataset, local executor, no network
 *   nextflow run nextflow/main.nf -entry IMPUTE --input samplesheet.tsv --genome hg19.fa --impute_cell HepG2 \
 *       --models '~/.cache/factornet/models/*.keras' --outdir results    # many models, one cell type → calls
 *
 * Every step calls the `factornet <subcommand>` command line (see the CONTRACT); the pipeline adds no logic
 * of its own beyond reading the samplesheet and wiring channels.
 */
nextflow.enable.dsl = 2

include { FACTORNET_SIMULATE } from './modules/local/factornet/simulate/main'
include { FACTORNET          } from './workflows/factornet'
include { FACTORNET_IMPUTE_CELL } from './workflows/impute'
include { checkParams           } from './subworkflows/local/params/main'

/*
 * [ fasta, [ index files beside it ] ]: the .fai (and .gzi for bgzip) are staged with the FASTA when present.
 */
def genomeWithIndex(fasta) {
    return [fasta, ['.fai', '.gzi'].collect { ext -> file("${fasta}${ext}") }.findAll { f -> f.exists() }]
}

/*
 * The reference files the processes read, from their parameters: each a file (checked to exist) or [] (not given).
 * They reach the processes as `path` inputs, so they are staged into every task that reads them.
 */
def referenceFiles(List names) {
    return names.collectEntries { name ->
        [name, params[name] ? file(params[name], checkIfExists: true) : []]
    }
}

/*
 * pipeline_info/software_versions.yml from the `versions` topic, one entry per process and tool:
 *   "<process>":
 *       <tool>: <version>
 */
def publishSoftwareVersions() {
    channel.topic('versions')
        .unique()
        .map { process, tool, version -> "\"${process}\":\n    ${tool}: ${version}\n".toString() }
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true, newLine: false)
}

workflow {
    checkParams(file("${projectDir}/nextflow_schema.json"))
    if (params.meta_values) {
        // the models trained here carry their PCA basis: --meta-values would replace every target cell
        // type's projected expression with one file's values (factornet_core.inputs.Metadata.for_model)
        error("--meta_values is read by -entry IMPUTE only (imported models with 'meta'); the models this workflow " +
            "trains project each cell type's expression rows of the samplesheet: leave --meta_values out")
    }
    if (params.simulate) {
        FACTORNET_SIMULATE(Channel.of([id: 'simulated', seed: params.seed]))
        ch_samplesheet = FACTORNET_SIMULATE.out.samplesheet.map { _meta, sheet -> sheet }
        ch_genome = params.genome
            ? Channel.value(genomeWithIndex(file(params.genome, checkIfExists: true)))
            : FACTORNET_SIMULATE.out.dataset.map { _meta, dir -> genomeWithIndex(dir.resolve('genome.fa')) }.first()
    }
    else if (params.input) {
        if (!params.genome) {
            error("give --genome GENOME.fa (the FASTA the samplesheet's tracks and peaks refer to)")
        }
        ch_samplesheet = Channel.fromPath(params.input, checkIfExists: true)
        ch_genome = Channel.value(genomeWithIndex(file(params.genome, checkIfExists: true)))
    }
    else {
        error("give --input SAMPLESHEET.tsv (cell_type<TAB>kind<TAB>name<TAB>path), or --simulate to make a dataset")
    }

    if (params.gencode && !(params.annotation_beds || (params.gtf && params.cpg))) {
        error("--gencode needs the annotation: --gtf GTF and --cpg CPG.bed, or --annotation_beds FOLDER")
    }
    FACTORNET(ch_samplesheet, ch_genome, referenceFiles(['blacklist', 'gtf', 'cpg', 'annotation_beds', 'motif_file', 'known_motifs']))
    publishSoftwareVersions()
}

/*
 * -entry IMPUTE: one cell type's tracks (--input samplesheet rows of --impute_cell; bam/fragments rows are made into
 * tracks first, as in the default workflow) + many models (--models, a glob or comma-separated paths) → one
 * prediction file (a column per model) → binding-site calls (narrowPeak).
 */
workflow IMPUTE {
    checkParams(file("${projectDir}/nextflow_schema.json"))
    if (!params.input || !params.genome || !params.impute_cell || !params.models) {
        error("-entry IMPUTE needs --input SAMPLESHEET.tsv, --genome GENOME.fa, --impute_cell CELL and --models 'DIR/*.keras'")
    }
    ch_models = Channel.fromPath(params.models.toString().tokenize(',').collect { m -> m.trim() }, checkIfExists: true)
    FACTORNET_IMPUTE_CELL(
        Channel.fromPath(params.input, checkIfExists: true),
        Channel.value(genomeWithIndex(file(params.genome, checkIfExists: true))),
        ch_models,
        params.impute_cell,
        referenceFiles(['blacklist', 'gtf', 'cpg', 'annotation_beds', 'meta_values']),
    )
    publishSoftwareVersions()
}
