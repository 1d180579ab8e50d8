include { stagedSamplesheet; optionalFile } from '../functions'

process FACTORNET_PREDICT {
    tag "${meta.id}"
    label 'process_medium'
    label 'process_gpu'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), path(model), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, cell:, chroms: (null = all) ], model, the cell's samplesheet rows and files
    tuple path(fasta), path(fasta_index)                                         // genome FASTA and its .fai/.gzi (may be [])
    path(blacklist, stageAs: 'blacklist/*')                                      // BED of bins scored 0, or []
    path(gtf, stageAs: 'annotations/gtf/*')                                      // for -g: GENCODE-style GTF, or []
    path(cpg, stageAs: 'annotations/cpg/*')                                      // for -g: CpG-island BED (with the GTF), or []
    path(annotation_beds, stageAs: 'annotations/beds/*')                         // for -g: a folder of feature BEDs instead, or []

    output:
    tuple val(meta), path("${prefix}.tsv.gz"), emit: predictions
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def chroms = meta.chroms ? "--chroms ${meta.chroms.join(',')}" : ''
    """
    ${stagedSamplesheet(rows, files)}

    factornet predict \\
        --model ${model} \\
        --genome ${fasta} \\
        --samplesheet samplesheet.tsv \\
        --cell ${meta.cell} \\
        ${chroms} \\
        ${optionalFile('--blacklist', blacklist)} \\
        ${optionalFile('--gtf', gtf)} \\
        ${optionalFile('--cpg', cpg)} \\
        ${optionalFile('--annotation-beds', annotation_beds)} \\
        --out ${prefix}.tsv.gz \\
        --quiet \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    def header = (['chr', 'start', 'stop'] + (meta.tfs ?: ['TF'])).join('\\t')
    """
    ${stagedSamplesheet(rows, files)}
    printf '${header}\\n' | gzip -c > ${prefix}.tsv.gz
    """
}
