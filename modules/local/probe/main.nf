// PROBE: one probe head on every stored layer/pooling of one embedding store.
// Writes probes/<dataset>/<model>/L<layer>/<pooling>-<head>/ (model, predictions, trials, record.json).
process GLMPROBE_PROBE {
    tag "${meta.id} ${head}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "glmprobe${task.ext.use_gpu ? '-cuda' : ''}:${workflow.manifest.version}"

    input:
    tuple val(meta), path(dataset), path(store), val(head)

    output:
    // Optional: a head that needs per-token embeddings is skipped (with a note) on pooled-only stores.
    tuple val(meta), path("probes/${meta.dataset}/${meta.model}/L*/*-${head}", type: 'dir'), emit: probes, optional: true
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe probe \\
        --dataset ${dataset} \\
        --store ${store} \\
        --outdir probes/${meta.dataset}/${meta.model} \\
        --layer all \\
        --head ${head} \\
        --quiet \\
        ${args}
    """

    stub:
    """
    mkdir -p probes/${meta.dataset}/${meta.model}/L0/mean-${head}
    touch probes/${meta.dataset}/${meta.model}/L0/mean-${head}/record.json probes/${meta.dataset}/${meta.model}/L0/mean-${head}/predictions.csv
    """
}
