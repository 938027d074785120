// TRACK: the single MLflow writer. Logs every record.json of the run, idempotently.
// maxForks 1 (conf/modules.config): it creates the tracking DB, which must happen exactly once.
process GLMPROBE_TRACK {
    tag "${experiment}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    // Top-level output folders of every task (datasets/, embeddings/, probes/ ...), one per task.
    path(trees, stageAs: 'part*/*')
    // pipeline_info/pipeline_run.json of an earlier launch into the same outdir (keeps one parent run), or [].
    path(run_info, stageAs: 'results/pipeline_info/*')
    val experiment

    output:
    path "results/pipeline_info/pipeline_run.json", emit: run_info, optional: true
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions_glmprobe, topic: versions
    tuple val("${task.process}"), val('mlflow'), eval("python3 -c 'import mlflow; print(mlflow.__version__)'"), emit: versions_mlflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    # Merge the per-task trees into one results/ tree of symlinks (the layout of docs/output.md).
    mkdir -p results
    cp -rsL "\$PWD"/part*/* results/
    glmprobe track results \\
        --experiment '${experiment}' \\
        --quiet \\
        ${args}
    """

    stub:
    """
    mkdir -p results/pipeline_info
    touch results/pipeline_info/pipeline_run.json
    """
}
