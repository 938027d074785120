// TRACK: the single MLflow writer. Logs every record.json of the run, idempotently.
// Default store: a SQLite DB built in this task's work dir (mlflow.db + mlartifacts/), then
// published to --outdir; its artifact locations are rewritten to the published place
// (--artifact-destination), so it works on any executor and with --outdir s3://...
// With --tracking_uri http(s)://... it logs to that server instead and publishes no DB.
// The parent run's id is the Nextflow session id: stable across -resume.
process GLMPROBE_TRACK {
    tag "${experiment}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "glmprobe:${workflow.manifest.version}"

    input:
    // Top-level output folders of every task (datasets/, embeddings/, probes/ ...), one per task.
    path(trees, stageAs: 'part*/*')
    val experiment
    val session
    // Where outdir/mlartifacts will be (path or URI); '' when logging to a tracking server.
    val artifact_destination

    output:
    path "mlflow.db"   , emit: db, optional: true
    path "mlartifacts" , emit: artifacts, optional: true
    path "pipeline_run.json", emit: run_info
    tuple val("${task.process}"), val('glmprobe'), eval("glmprobe --version | sed 's/.*version //'"), emit: versions

    script:
    def args = task.ext.args ?: ''
    def store = artifact_destination ? "--tracking-uri \"sqlite:///\$PWD/mlflow.db\" --artifact-destination '${artifact_destination}'" : ''
    """
    export GLMPROBE_PIPELINE_VERSION=${workflow.manifest.version}
    # Merge the per-task trees into one results/ tree of symlinks (the layout of docs/output.md).
    mkdir -p results
    cp -rsL "\$PWD"/part*/* results/
    glmprobe track results \\
        --experiment '${experiment}' \\
        --pipeline-run-id '${session}' \\
        --quiet \\
        ${store} \\
        ${args}
    printf '{"id": "%s", "experiment": "%s"}\\n' '${session}' '${experiment}' > pipeline_run.json
    """

    stub:
    """
    touch mlflow.db pipeline_run.json
    mkdir -p mlartifacts
    """
}
