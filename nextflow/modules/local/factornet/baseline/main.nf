include { stagedSamplesheet; optionalFile } from '../functions'

process FACTORNET_BASELINE {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, tf:, cell:, method:, chroms: (null = all), train_cells: (gbm) ], samplesheet rows and files
    tuple path(fasta), path(fasta_index)                            // genome FASTA and its .fai/.gzi (may be [])
    path(blacklist, stageAs: 'blacklist/*')                         // BED of bins scored 0, or []
    path(motif_file, stageAs: 'motifs/*')                           // MEME file to take the TF's motif from, or [] (JASPAR)

    output:
    tuple val(meta), path("${prefix}.tsv.gz"), emit: predictions
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def chroms = meta.chroms ? "--chroms ${meta.chroms.join(',')}" : ''
    def train  = meta.method == 'gbm' ? "--train-cells ${meta.train_cells.join(',')}" : ''
    """
    ${stagedSamplesheet(rows, files)}

    factornet baseline \\
        --method ${meta.method} \\
        --tf ${meta.tf} \\
        --genome ${fasta} \\
        --samplesheet samplesheet.tsv \\
        --cell ${meta.cell} \\
        ${chroms} \\
        ${train} \\
        ${optionalFile('--blacklist', blacklist)} \\
        ${optionalFile('--motif-file', motif_file)} \\
        --out ${prefix}.tsv.gz \\
        --quiet \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    ${stagedSamplesheet(rows, files)}
    printf 'chr\\tstart\\tstop\\t${meta.tf}\\n' | gzip -c > ${prefix}.tsv.gz
    """
}
