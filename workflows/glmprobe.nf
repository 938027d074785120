/*
 * GLMPROBE: the benchmark as channel wiring.
 *
 *   datasets sheet (or SYNTH) -> PREPARE per dataset
 *   [PRETRAIN the demo gLM on the train splits]
 *   dataset x model -> EMBED (optionally --shard i/n, then EMBED_GATHER)
 *   store x head    -> PROBE   (every stored layer and pooling)
 *   dataset x arch  -> BASELINE
 *   every output    -> TRACK (the single MLflow writer) and REPORT
 */

include { GLMPROBE_SYNTH        } from '../modules/local/synth/main'
include { GLMPROBE_PREPARE      } from '../modules/local/prepare/main'
include { GLMPROBE_PRETRAIN     } from '../modules/local/pretrain/main'
include { GLMPROBE_EMBED        } from '../modules/local/embed/main'
include { GLMPROBE_EMBED_GATHER } from '../modules/local/embed_gather/main'
include { GLMPROBE_PROBE        } from '../modules/local/probe/main'
include { GLMPROBE_BASELINE     } from '../modules/local/baseline/main'
include { GLMPROBE_TRACK        } from '../modules/local/track/main'
include { GLMPROBE_REPORT       } from '../modules/local/report/main'
include { sheetMetas; pretrainedMetas; listParam; softwareVersionsToYAML } from '../subworkflows/local/utils_nfcore_glmprobe_pipeline'

workflow GLMPROBE {

    take:
    ch_input   // channel: [ datasets sheet ]; empty with params.synth
    ch_models  // channel: [ meta(id, family), models sheet folder, models sheet name ]

    main:
    // ---- datasets: the user's sheet, or the synthetic benchmark generated here
    ch_synth = channel.empty()
    ch_sheet = ch_input
    if (params.synth) {
        GLMPROBE_SYNTH(params.seed)
        ch_synth = GLMPROBE_SYNTH.out.folder
        ch_sheet = GLMPROBE_SYNTH.out.sheet
    }
    def wanted = listParam(params.datasets)
    ch_rows = ch_sheet
        .flatMap { sheet ->
            sheetMetas(sheet, "${projectDir}/assets/schema_datasets.json")
                .findAll { meta -> !wanted || meta.id in wanted }
                .collect { meta -> [[id: meta.id], sheet.parent, sheet.name] }
        }
    GLMPROBE_PREPARE(ch_rows)
    ch_dataset = GLMPROBE_PREPARE.out.dataset  // [ meta(id), dataset.h5 ]

    // ---- models: the models sheet, plus the pre-trained demo gLM and its random-init twin
    ch_pretrain = channel.empty()
    ch_all_models = ch_models
    if (params.pretrain) {
        // One dataset's train split: params.pretrain_dataset, else the sheet's first (selected) row.
        ch_pretrain_on = ch_sheet.map { sheet ->
            params.pretrain_dataset ?: sheetMetas(sheet, "${projectDir}/assets/schema_datasets.json")
                .find { meta -> !wanted || meta.id in wanted }?.id
        }
        GLMPROBE_PRETRAIN(
            ch_dataset.combine(ch_pretrain_on).filter { meta, h5, id -> meta.id == id }.map { meta, h5, id -> [meta, h5] },
            file("${projectDir}/assets/pretrained_models.csv", checkIfExists: true)
        )
        ch_pretrain = GLMPROBE_PRETRAIN.out.folder
        def metas = pretrainedMetas()
        ch_all_models = ch_models.mix(
            GLMPROBE_PRETRAIN.out.folder.flatMap { folder -> metas.collect { meta -> [meta, folder, 'models.csv'] } }
        )
    }

    // ---- EMBED every dataset with every model (scatter over shards when embed_shards > 1)
    def n_shards = params.embed_shards as int
    ch_embed = ch_dataset
        .combine(ch_all_models)
        .map { dmeta, h5, mmeta, sheet_dir, sheet_name ->
            [[id: "${dmeta.id}/${mmeta.id}", dataset: dmeta.id, model: mmeta.id, family: mmeta.family],
             h5, sheet_dir, sheet_name]
        }
        .combine(channel.fromList(n_shards > 1 ? (0..<n_shards).collect { i -> "${i}/${n_shards}" } : ['']))
    GLMPROBE_EMBED(ch_embed)
    ch_parts = GLMPROBE_EMBED.out.store.branch { meta, dir ->
        whole: n_shards == 1
        shard: true
    }
    GLMPROBE_EMBED_GATHER(
        ch_parts.shard
            .groupTuple(size: n_shards)
            .map { meta, dirs -> [meta, dirs.sort { dir -> dir.name.tokenize('o')[0] as int }] }
    )
    ch_store = ch_parts.whole.mix(GLMPROBE_EMBED_GATHER.out.store)  // [ meta(id, dataset, model, family), store ]

    // ---- PROBE every head on every store (each task sweeps all stored layers and poolings)
    ch_probe = ch_store
        .map { meta, store -> [meta.dataset, meta, store] }
        .combine(ch_dataset.map { meta, h5 -> [meta.id, h5] }, by: 0)
        .map { dataset_id, meta, store, h5 -> [meta, h5, store] }
        .combine(channel.fromList(listParam(params.heads)))
    GLMPROBE_PROBE(ch_probe)

    // ---- BASELINE: one-hot architectures from scratch, same tuning budget
    GLMPROBE_BASELINE(ch_dataset.combine(channel.fromList(listParam(params.baselines))))

    // ---- TRACK and REPORT read every task's top-level output folder (records are the source of
    // truth). Each task writes under <folder>/<...> in its work dir, so its top-level folder holds
    // only its own outputs; the two steps merge them back into the results tree.
    ch_trees = GLMPROBE_PREPARE.out.folder.map { dir -> dir.parent }
        .mix(
            ch_synth,
            ch_pretrain,
            ch_store.map { meta, store -> store.parent.parent },
            GLMPROBE_PROBE.out.probes.flatMap { meta, dirs -> (dirs instanceof List ? dirs : [dirs]).collect { dir -> dir.parent.parent.parent.parent } },
            GLMPROBE_BASELINE.out.baseline.map { meta, dir -> dir.parent.parent },
        )
        .unique()
        .collect()
    // An earlier launch's pipeline_run.json keeps MLflow's parent run stable across -resume.
    def run_info = file("${params.outdir}/pipeline_info/pipeline_run.json")
    GLMPROBE_TRACK(ch_trees, run_info.exists() ? run_info : [], params.experiment)
    GLMPROBE_REPORT(ch_trees)

    // ---- software versions of every process, from the `versions` topic
    softwareVersionsToYAML(channel.topic('versions'))
        .collectFile(storeDir: "${params.outdir}/pipeline_info", name: 'glmprobe_software_mqc_versions.yml', sort: true, newLine: true)

    emit:
    report = GLMPROBE_REPORT.out.report  // channel: [ report folder ]
    table  = GLMPROBE_REPORT.out.table   // channel: [ results.csv ]
}
