#!/usr/bin/env nextflow
/*
 * glmprobe: probe frozen genomic language model (gLM) embeddings on regulatory-genomics tasks
 * against one-hot models trained from scratch (Tang et al. 2025, Genome Biology).
 *
 * Every step is one `glmprobe <step>` command; the processes only stage files and call it.
 * `glmprobe run PARAMS.yaml` runs the same benchmark on one machine without Nextflow.
 * main.nf with the initialisation that needs no plugin (validation by glmprobe): what CI runs.
 */

include { GLMPROBE                } from './workflows/glmprobe'
include { PIPELINE_INITIALISATION } from './subworkflows/local/utils_glmprobe_ci'
include { PIPELINE_COMPLETION     } from './subworkflows/local/utils_glmprobe'

workflow {

    main:
    // Validate params and sheets, print the summary, read the sheets into channels.
    PIPELINE_INITIALISATION(
        params.version,
        params.validate_params,
        params.input,
        params.models,
        params.pretrain
    )

    GLMPROBE(
        PIPELINE_INITIALISATION.out.input,
        PIPELINE_INITIALISATION.out.models
    )

    PIPELINE_COMPLETION(
        params.outdir,
        params.tracking_uri
    )
}
