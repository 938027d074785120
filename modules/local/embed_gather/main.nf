// EMBED_GATHER: merge the shards of one dataset x model into embeddings/<dataset>/<model>/.
process GLMPROBE_EMBED_GATHER {
    tag "${meta.id}"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    tuple val(meta), path(shards, stageAs: 'shard*/*')

    output:
    tuple val(meta), path("embeddings/${meta.dataset}/${meta.model}"), emit: store
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe embed \\
        --gather ${shards.join(' --gather ')} \\
        --outdir embeddings/${meta.dataset}/${meta.model} \\
        --quiet \\
        ${args}
    """

    stub:
    """
    mkdir -p embeddings/${meta.dataset}/${meta.model}
    touch embeddings/${meta.dataset}/${meta.model}/store.h5 embeddings/${meta.dataset}/${meta.model}/manifest.json embeddings/${meta.dataset}/${meta.model}/record.json
    """
}
