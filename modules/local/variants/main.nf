// VARIANTS: one variant set scored by one model -> variants/<set>/<model_id>/.
// `kind` says which model: 'zeroshot' scores a gLM (its models-sheet row, local source staged as
// inputs/model/<name>, as in EMBED); 'trained' gives alt - ref predictions of a trained baseline or
// probe folder (a probe also needs its embedding store; an empty list for baselines).
process GLMPROBE_VARIANTS {
    tag "${meta.id} ${model_id}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "glmprobe${task.ext.use_gpu ? '-cuda' : ''}:${workflow.manifest.version}"

    input:
    // genome: the FASTA, then its .fai/.gzi when they exist
    tuple val(meta), path(variants), path(genome), val(kind), val(model_id), val(model_row), path(source, stageAs: 'inputs/model/*'), path(trained, stageAs: 'trained'), path(store, stageAs: 'store')

    output:
    tuple val(meta), path("variants/${meta.id}/${model_id}"), emit: variants
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    def fasta = genome instanceof List ? genome[0] : genome
    def model_args = kind == 'trained' ? "--trained ${trained}" + (store ? " --store ${store}" : '') : "--models models.csv --model ${model_id}"
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    cat > models.csv <<'GLMPROBE_SHEET'
${model_row}
GLMPROBE_SHEET
    glmprobe variants \\
        --variants ${variants} \\
        --genome ${fasta} \\
        ${model_args} \\
        --name ${meta.id} \\
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
