include { stagedSamplesheet; optionalFile } from '../functions'

process FACTORNET_BIN {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), val(rows), path(files, stageAs: 'inputs/f*/*') // [ id:, tf:, cells:, chroms: ], samplesheet rows (cell_type, kind, name), their files
    tuple path(fasta), path(fasta_index)                            // genome FASTA and its .fai/.gzi (may be [])
    path(blacklist, stageAs: 'blacklist/*')                         // BED of regions left out of the bins BED, or []

    output:
    tuple val(meta), path("${prefix}.labels.tsv.gz"), emit: labels
    tuple val(meta), path("${prefix}.bins.bed.gz")  , emit: bins
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def chroms = meta.chroms ? "--chroms ${meta.chroms.join(',')}" : ''
    """
    ${stagedSamplesheet(rows, files)}

    factornet bin \\
        --genome ${fasta} \\
        --samplesheet samplesheet.tsv \\
        --tf ${meta.tf} \\
        ${chroms} \\
        ${optionalFile('--blacklist', blacklist)} \\
        --out-labels ${prefix}.labels.tsv.gz \\
        --out-bins ${prefix}.bins.bed.gz \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    def header = (['chr', 'start', 'stop'] + (meta.cells ?: [])).join('\\t')
    """
    ${stagedSamplesheet(rows, files)}
    printf '${header}\\n' | gzip -c > ${prefix}.labels.tsv.gz
    printf '' | gzip -c > ${prefix}.bins.bed.gz
    """
}
