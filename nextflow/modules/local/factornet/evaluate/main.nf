process FACTORNET_EVALUATE {
    tag "${meta.id}"
    label 'process_single'

    conda "bioconda::factornet=${params.factornet_version}"
    container "${params.factornet_container}"

    input:
    tuple val(meta), path(predictions, stageAs: 'predictions/p*/*'), path(labels, stageAs: 'labels/l*/*') // [ id:, cell:, label_tfs: [TF per labels file], names: [one per predictions file] (default [id]) ], prediction files over the same bins, DREAM label files

    output:
    tuple val(meta), path("${prefix}.metrics.json"), emit: json
    tuple val(meta), path("${prefix}.metrics.tsv") , emit: tsv
    tuple val(meta), path("${prefix}.{pr,roc,aupr}.png"), emit: plots, optional: true
    tuple val("${task.process}"), val('factornet'), eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), emit: versions_factornet, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    prefix     = task.ext.prefix ?: "${meta.id}"
    def staged = labels instanceof List ? labels : [labels]
    def labs   = [meta.label_tfs, staged].transpose().collect { tf, f -> "--labels ${tf}=${f}" }.join(' ')
    def preds  = predictions instanceof List ? predictions : [predictions]
    def names  = meta.names ?: [meta.id]
    """
    factornet evaluate \\
        --predictions ${preds.join(' ')} \\
        ${labs} \\
        --cell ${meta.cell} \\
        --out-prefix ${prefix} \\
        --name ${names.join(' ')} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    echo '[]' > ${prefix}.metrics.json
    printf 'model\\tTF\\tcell\\tauROC\\tauPR\\n' > ${prefix}.metrics.tsv
    touch ${prefix}.pr.png ${prefix}.roc.png ${prefix}.aupr.png
    """
}
