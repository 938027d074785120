// EMBED: one dataset x one gLM -> embeddings/<dataset>/<model>/ (store.h5, manifest.json, record.json).
// With `shard` = "i/n" it embeds one slice into shards/...; GLMPROBE_EMBED_GATHER merges the slices.
process GLMPROBE_EMBED {
    tag "${meta.id}${shard ? ' ' + shard : ''}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    // One image per dependency family (gpn pins its own transformers); -cuda variants under the gpu profile.
    container "glmprobe${meta.family == 'gpn' ? '-gpn' : ''}${task.ext.use_gpu ? '-cuda' : ''}:${workflow.manifest.version}"

    input:
    // model_row: the model's models-sheet row (one-row sheet); a local source is staged as inputs/model/<name>.
    tuple val(meta), path(dataset), val(model_row), path(source, stageAs: 'inputs/model/*'), val(shard), val(out)

    output:
    tuple val(meta), path("${out}"), emit: store
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    def shard_arg = shard ? "--shard ${shard}" : ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    cat > models.csv <<'GLMPROBE_SHEET'
${model_row}
GLMPROBE_SHEET
    glmprobe embed \\
        --dataset ${dataset} \\
        --models models.csv \\
        --model ${meta.model} \\
        --outdir ${out} \\
        ${shard_arg} \\
        --quiet \\
        ${args}
    """

    stub:
    """
    mkdir -p ${out}
    touch ${out}/store.h5 ${out}/manifest.json ${out}/record.json
    """
}
