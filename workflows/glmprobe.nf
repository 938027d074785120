/*
 * GLMPROBE: the benchmark as channel wiring.
 *
 *   datasets sheet (or SYNTH) -> PREPARE per dataset
 *   [PRETRAIN the demo gLM on the train split]
 *   dataset x model -> EMBED (optionally --shard i/n, then EMBED_GATHER)
 *   store x head    -> PROBE   (every stored layer and pooling)
 *   dataset x arch  -> BASELINE
 *   [ATTRIBUTE every neural baseline and each gLM's explained probe, per dataset]
 *   [VARIANTS: zero-shot per gLM; supervised per neural baseline and explained probe of variants_dataset]
 *   every output    -> TRACK (the single MLflow writer) and REPORT
 *
 * The task matrix is the one glmprobe.plan expands for `glmprobe run` (the same record keys);
 * tests/pipeline compare the two runners' results task by task.
 */

include { GLMPROBE_SYNTH        } from '../modules/local/synth/main'
include { GLMPROBE_PREPARE      } from '../modules/local/prepare/main'
include { GLMPROBE_PRETRAIN     } from '../modules/local/pretrain/main'
include { GLMPROBE_EMBED        } from '../modules/local/embed/main'
include { GLMPROBE_EMBED_GATHER } from '../modules/local/embed_gather/main'
include { GLMPROBE_PROBE        } from '../modules/local/probe/main'
include { GLMPROBE_BASELINE     } from '../modules/local/baseline/main'
include { GLMPROBE_ATTRIBUTE    } from '../modules/local/attribute/main'
include { GLMPROBE_VARIANTS     } from '../modules/local/variants/main'
include { GLMPROBE_TRACK        } from '../modules/local/track/main'
include { GLMPROBE_REPORT       } from '../modules/local/report/main'
include { datasetRows; pretrainedRows; listParam; boolParam; explainedProbes; recordKind; variantSet; variantsDataset } from '../subworkflows/local/utils_glmprobe'

workflow GLMPROBE {

    take:
    ch_input   // channel: [ datasets sheet ]; empty with params.synth
    ch_models  // channel: [ meta(id, family), models-sheet row CSV, local source or [] ]

    main:
    ch_versions = channel.empty()

    // ---- datasets: the user's sheet, or the synthetic benchmark generated here
    ch_synth = channel.empty()
    ch_sheet = ch_input
    if (boolParam(params.synth)) {
        GLMPROBE_SYNTH(params.seed as int)
        ch_synth = GLMPROBE_SYNTH.out.folder
        ch_sheet = GLMPROBE_SYNTH.out.folder.map { dir -> dir.resolve('datasets.csv') }
        ch_versions = ch_versions.mix(GLMPROBE_SYNTH.out.versions)
    }
    def wanted = listParam(params.datasets)
    ch_rows = ch_sheet
        .flatMap { sheet -> datasetRows(sheet).findAll { row -> !wanted || row[0].id in wanted } }
    GLMPROBE_PREPARE(ch_rows)
    ch_versions = ch_versions.mix(GLMPROBE_PREPARE.out.versions)
    ch_dataset = GLMPROBE_PREPARE.out.folder.map { meta, dir -> [meta, dir.resolve('dataset.h5')] }

    // ---- models: the models sheet, plus the pre-trained demo gLM and its random-init twin
    ch_pretrain = channel.empty()
    ch_all_models = ch_models
    if (boolParam(params.pretrain)) {
        // One dataset's train split: params.pretrain_dataset, else the first selected dataset.
        ch_pretrain_on = ch_sheet.map { sheet ->
            params.pretrain_dataset ?: datasetRows(sheet).collect { row -> row[0].id }.find { id -> !wanted || id in wanted }
        }
        GLMPROBE_PRETRAIN(
            ch_dataset.combine(ch_pretrain_on).filter { meta, _h5, id -> meta.id == id }.map { meta, h5, _id -> [meta, h5] }
        )
        ch_versions = ch_versions.mix(GLMPROBE_PRETRAIN.out.versions)
        ch_pretrain = GLMPROBE_PRETRAIN.out.model.map { dir -> dir.parent }
        ch_all_models = ch_models.mix(GLMPROBE_PRETRAIN.out.model.flatMap { dir -> pretrainedRows(dir) })
    }

    // ---- EMBED every dataset with every model (scatter over shards when embed_shards > 1)
    def n_shards = params.embed_shards as int
    ch_embed = ch_dataset
        .combine(ch_all_models)
        .combine(channel.fromList(n_shards > 1 ? (0..<n_shards).collect { i -> "${i}/${n_shards}" } : ['']))
        .map { dmeta, h5, mmeta, row, source, shard ->
            def meta = [id: "${dmeta.id}/${mmeta.id}", dataset: dmeta.id, model: mmeta.id, family: mmeta.family]
            def out = shard ? "shards/${dmeta.id}/${mmeta.id}/${shard.replace('/', 'of')}" : "embeddings/${dmeta.id}/${mmeta.id}"
            [meta, h5, row, source, shard, out]
        }
    GLMPROBE_EMBED(ch_embed)
    ch_versions = ch_versions.mix(GLMPROBE_EMBED.out.versions)
    ch_parts = GLMPROBE_EMBED.out.store.branch { _meta, _dir ->
        whole: n_shards == 1
        shard: true
    }
    GLMPROBE_EMBED_GATHER(
        ch_parts.shard
            .groupTuple(size: n_shards)
            .map { meta, dirs -> [meta, dirs.sort { dir -> dir.name.tokenize('o')[0] as int }] }
    )
    ch_versions = ch_versions.mix(GLMPROBE_EMBED_GATHER.out.versions)
    ch_store = ch_parts.whole.mix(GLMPROBE_EMBED_GATHER.out.store)  // [ meta(id, dataset, model, family), store ]

    // ---- PROBE every head on every store (each task sweeps all stored layers and poolings)
    ch_probe = ch_store
        .map { meta, store -> [meta.dataset, meta, store] }
        .combine(ch_dataset.map { meta, h5 -> [meta.id, h5] }, by: 0)
        .map { _dataset_id, meta, store, h5 -> [meta, h5, store] }
        .combine(channel.fromList(listParam(params.heads)))
    GLMPROBE_PROBE(ch_probe)
    ch_versions = ch_versions.mix(GLMPROBE_PROBE.out.versions)

    // ---- BASELINE: one-hot architectures from scratch, same tuning budget
    GLMPROBE_BASELINE(ch_dataset.combine(channel.fromList(listParam(params.baselines))))
    ch_versions = ch_versions.mix(GLMPROBE_BASELINE.out.versions)

    // ---- ATTRIBUTE and VARIANTS: the models glmprobe.plan picks (attribution_tasks, variant_tasks):
    // every neural baseline (record kind != control) and, per gLM, the explained probe: its deepest
    // layer, first of mean/cls, first head of params.heads that reads it (explainedProbes).
    def attribute_methods = listParam(params.attribute).join(',')
    def attribute_glm_methods = listParam(params.attribute_glm).join(',')
    def variant_set = variantSet(params)   // [name, variants file, genome] or null
    ch_neural = GLMPROBE_BASELINE.out.baseline
        .filter { _meta, dir -> recordKind(dir) != 'control' }
        .map { meta, dir -> [[id: "${meta.id}/${dir.name}", dataset: meta.id, model: dir.name], dir] }
    ch_explained = GLMPROBE_PROBE.out.probes
        .filter { meta, _dirs -> meta.family != 'onehot' }
        .map { meta, dirs -> [[meta.dataset, meta.model], dirs instanceof List ? dirs : [dirs]] }
        .groupTuple()
        .flatMap { key, dirs -> explainedProbes(dirs.flatten(), listParam(params.heads)).collect { dir -> [key, dir] } }
        .combine(ch_store.map { meta, store -> [[meta.dataset, meta.model], store] }, by: 0)
        .map { key, dir, store ->
            def model = "${key[1]}/${dir.parent.name}/${dir.name}".toString()
            [[id: "${key[0]}/${model}", dataset: key[0], model: model], dir, store]
        }
    // the sites travel with truth.json beside them: attribute scores the PWM-ceiling map only on synth's answer key
    ch_truth = ch_synth
        .map { dir -> [[dir.resolve('motif_sites.tsv'), dir.resolve('truth.json')], dir.resolve('motifs.meme')] }
        .ifEmpty([[], []])
    ch_attribute = channel.empty()
    if (attribute_methods) {
        ch_attribute = ch_attribute.mix(ch_neural.map { meta, dir -> [meta, dir, [], attribute_methods] })
    }
    if (attribute_glm_methods) {
        ch_attribute = ch_attribute.mix(ch_explained.map { meta, dir, store -> [meta, dir, store, attribute_glm_methods] })
    }
    GLMPROBE_ATTRIBUTE(
        ch_attribute
            .map { meta, dir, store, methods -> [meta.dataset, meta, dir, store, methods] }
            .combine(ch_dataset.map { meta, h5 -> [meta.id, h5] }, by: 0)
            .combine(ch_truth)
            .map { _id, meta, dir, store, methods, h5, sites, motifs -> [meta, dir, h5, store, sites, motifs, methods] }
    )
    ch_versions = ch_versions.mix(GLMPROBE_ATTRIBUTE.out.versions)

    ch_variants_in = channel.empty()
    if (variant_set) {
        // The set's files: the synthetic benchmark's, or the params' (a genome's .fai/.gzi staged beside it).
        ch_set = variant_set[1]
            ? channel.of([[id: variant_set[0]], file(variant_set[1]), [file(variant_set[2])] + ['.fai', '.gzi'].collect { ext -> file("${variant_set[2]}${ext}") }.findAll { f -> f.exists() }])
            : ch_synth.map { dir -> [[id: variant_set[0]], dir.resolve('variants.tsv'), dir.resolve('variants_genome.fa')] }
        // Supervised scores come from the models trained on one dataset: params.variants_dataset,
        // else synth_mpra with synth, else the first selected dataset.
        ch_on = ch_sheet.map { sheet -> variantsDataset(sheet, wanted, boolParam(params.synth), params.variants_dataset) }
        ch_zeroshot = ch_all_models
            .filter { mmeta, _row, _source -> mmeta.family != 'onehot' }
            .map { mmeta, row, source -> ['zeroshot', mmeta.id, row, source, [], []] }
        ch_trained = ch_neural.map { meta, dir -> [meta.dataset, meta.model, dir, []] }
            .mix(ch_explained.map { meta, dir, store -> [meta.dataset, meta.model.replace('/', '_'), dir, store] })
            .combine(ch_on)
            .filter { dataset, _id, _dir, _store, on -> dataset == on }
            .map { _dataset, model_id, dir, store, _on -> ['trained', model_id, '', [], dir, store] }
        ch_variants_in = ch_set.combine(ch_zeroshot.mix(ch_trained))
    }
    GLMPROBE_VARIANTS(ch_variants_in)
    ch_versions = ch_versions.mix(GLMPROBE_VARIANTS.out.versions)

    // ---- TRACK and REPORT read every task's top-level output folder (records are the source of
    // truth). Each task writes under <folder>/<...> in its work dir, so its top-level folder holds
    // only its own outputs; the two steps merge them back into the results tree.
    ch_trees = GLMPROBE_PREPARE.out.folder.map { _meta, dir -> dir.parent }
        .mix(
            ch_synth,
            ch_pretrain,
            ch_store.map { _meta, store -> store.parent.parent },
            GLMPROBE_PROBE.out.probes.flatMap { _meta, dirs -> (dirs instanceof List ? dirs : [dirs]).collect { dir -> dir.parent.parent.parent.parent } },
            GLMPROBE_BASELINE.out.baseline.map { _meta, dir -> dir.parent.parent },
            // attribution/<dataset>/<model...>: up one level per part of the model name, then the dataset
            GLMPROBE_ATTRIBUTE.out.attribution.map { meta, dir -> meta.model.tokenize('/').inject(dir.parent) { d, _part -> d.parent } },
            GLMPROBE_VARIANTS.out.variants.map { _meta, dir -> dir.parent.parent },
        )
        .unique()
        .toSortedList()
    // Without a tracking server TRACK builds mlflow.db + mlartifacts/ in its work dir; they are
    // published to outdir and the DB points at the published artifacts.
    def artifact_destination = params.tracking_uri ? '' : "${file(params.outdir).toUriString()}/mlartifacts".toString()
    GLMPROBE_TRACK(ch_trees, params.experiment, workflow.sessionId.toString(), artifact_destination)
    GLMPROBE_REPORT(ch_trees)
    ch_versions = ch_versions.mix(GLMPROBE_TRACK.out.versions, GLMPROBE_REPORT.out.versions)

    // ---- software versions of every process -> pipeline_info/glmprobe_software_mqc_versions.yml
    ch_versions
        .map { process, tool, version -> [process.tokenize(':').last(), "${tool}: ${version}".toString()] }
        .unique()
        .groupTuple()
        .map { process, tools -> ("${process}:\n" + tools.sort().collect { line -> "    ${line}" }.join('\n')).toString() }
        .mix(channel.of("Workflow:\n    glmprobe: ${workflow.manifest.version}\n    Nextflow: ${workflow.nextflow.version}".toString()))
        .collectFile(storeDir: "${params.outdir}/pipeline_info", name: 'glmprobe_software_mqc_versions.yml', sort: true, newLine: true)

    emit:
    report = GLMPROBE_REPORT.out.report  // channel: [ report folder ]
}
