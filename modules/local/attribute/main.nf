// ATTRIBUTE: nucleotide-level maps of one trained model (one-hot baseline or gLM probe), scored against the
// synthetic benchmark's planted sites and motifs when given. Writes attribution/<dataset>/<model>/.
process GLMPROBE_ATTRIBUTE {
    tag "${meta.id}"
    label 'process_gpu'

    conda "${moduleDir}/environment.yml"
    container "glmprobe${task.ext.use_gpu ? '-cuda' : ''}:${workflow.manifest.version}"

    input:
    // model: a baselines/<dataset>/<arch>/ or probes/<dataset>/<model>/L<l>/<pooling>-<head>/ folder;
    // store: the probe's embedding store (an empty list for one-hot baselines);
    // sites: synth's motif_sites.tsv with its truth.json (staged side by side); motifs: its motifs.meme
    // (empty lists for real data)
    tuple val(meta), path(model, stageAs: 'model'), path(dataset), path(store, stageAs: 'store'), path(sites), path(motifs), val(methods)

    output:
    tuple val(meta), path("attribution/${meta.dataset}/${meta.model}"), emit: attribution
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    def method_args = methods.tokenize(',').collect { m -> "--method ${m.trim()}" }.join(' ')
    def store_arg = store ? "--store ${store}" : ''
    def truth_args = (sites ? '--sites motif_sites.tsv' : '') + (motifs ? " --motifs ${motifs}" : '')
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    glmprobe attribute \\
        --model ${model} \\
        --dataset ${dataset} \\
        --outdir attribution/${meta.dataset}/${meta.model} \\
        ${method_args} \\
        ${store_arg} \\
        ${truth_args} \\
        --quiet \\
        ${args}
    """

    stub:
    """
    mkdir -p attribution/${meta.dataset}/${meta.model}
    touch attribution/${meta.dataset}/${meta.model}/record.json
    """
}
