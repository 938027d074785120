// VARIANTS: one variant set scored by one model -> variants/<set>/<model>/.
// `model` is either a gLM (a models-sheet row: zero-shot scores) or a trained baseline/probe
// folder (supervised alt - ref scores); `kind` says which.
process GLMPROBE_VARIANTS {
    tag "${meta.id} ${model_id}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "glmprobe${task.ext.use_gpu ? '-cuda' : ''}:${workflow.manifest.version}"

    input:
    tuple val(meta), path(variants), path(genome), val(kind), val(model_id), path(model)

    output:
    tuple val(meta), path("variants/${meta.id}/${model_id}"), emit: variants
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    def model_args = kind == 'trained' ? "--trained ${model}" : "--models ${model} --model ${model_id}"
    def length = kind == 'trained' || !params.variants_length ? '' : "--length ${params.variants_length}"
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe variants \\
        --variants ${variants} \\
        --genome ${genome} \\
        ${model_args} \\
        --name ${meta.id} \\
        --on-mismatch ${params.variants_on_mismatch ?: 'drop'} \\
        ${length} \\
        --outdir variants/${meta.id}/${model_id} \\
        --quiet \\
        ${args}
    """

    stub:
    """
    mkdir -p variants/${meta.id}/${model_id}
    touch variants/${meta.id}/${model_id}/record.json variants/${meta.id}/${model_id}/scores.tsv
    """
}
