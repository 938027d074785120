// EMBED: one dataset x one gLM -> embeddings/<dataset>/<model>/ (store.h5, manifest.json, record.json).
// With `shard` = "i/n" it embeds one slice into shards/...; GLMPROBE_EMBED_GATHER merges the slices.
process GLMPROBE_EMBED {
    tag "${meta.id}${shard ? ' ' + shard : ''}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    // One image per dependency family (gpn pins its own transformers); -cuda variants under the gpu profile.
    container "glmprobe${meta.family == 'gpn' ? '-gpn' : ''}${task.ext.use_gpu ? '-cuda' : ''}:${workflow.manifest.version}"

    input:
    tuple val(meta), path(dataset), path(models_dir, stageAs: 'models'), val(models_name), val(shard)

    output:
    tuple val(meta), path(shard ? "shards/${meta.dataset}/${meta.model}/${shard.replace('/', 'of')}" : "embeddings/${meta.dataset}/${meta.model}"), emit: store
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions_glmprobe, topic: versions
    tuple val("${task.process}"), val('torch'), eval("python3 -c 'import torch; print(torch.__version__)'"), emit: versions_torch, topic: versions
    tuple val("${task.process}"), val('transformers'), eval("python3 -c 'import transformers; print(transformers.__version__)'"), emit: versions_transformers, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def out = shard ? "shards/${meta.dataset}/${meta.model}/${shard.replace('/', 'of')}" : "embeddings/${meta.dataset}/${meta.model}"
    def shard_arg = shard ? "--shard ${shard}" : ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe embed \\
        --dataset ${dataset} \\
        --models models/${models_name} \\
        --model ${meta.model} \\
        --outdir ${out} \\
        ${shard_arg} \\
        --quiet \\
        ${args}
    """

    stub:
    def out = shard ? "shards/${meta.dataset}/${meta.model}/${shard.replace('/', 'of')}" : "embeddings/${meta.dataset}/${meta.model}"
    """
    mkdir -p ${out}
    touch ${out}/store.h5 ${out}/manifest.json ${out}/record.json
    """
}
