include { stagedSamplesheet; optionalFile } from '../functions'

process FACTORNET_INTERPRETMOTIFS {
    tag "${meta.id}"
    label 'process_medium'
    label 'process_gpu'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), path(model), path(peaks), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, cell: ], model, peaks to scan, the cell's samplesheet rows and files
    tuple path(fasta), path(fasta_index)                                                      // genome FASTA and its .fai/.gzi (may be [])
    path(known_motifs, stageAs: 'known/*')                                                    // MEME file of known motifs to match the kernels against, or [] (the default)

    output:
    tuple val(meta), path("${prefix}")       , emit: motifs
    tuple val(meta), path("${prefix}/kernels.meme"), emit: meme
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    """
    ${stagedSamplesheet(rows, files)}

    factornet interpret motifs \\
        --model ${model} \\
        --genome ${fasta} \\
        --samplesheet samplesheet.tsv \\
        --cell ${meta.cell} \\
        --peaks ${peaks} \\
        ${optionalFile('--known', known_motifs)} \\
        --out-dir ${prefix} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    ${stagedSamplesheet(rows, files)}
    mkdir -p ${prefix}
    printf 'MEME version 4\\n' > ${prefix}/kernels.meme
    """
}
