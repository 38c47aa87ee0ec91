#!/usr/bin/env node
// An independent re-implementation of the post-processing of Hugging Face
// transformers' TokenClassificationPipeline (pipelines/token_classification.py:
// gather_pre_entities, aggregate, aggregate_words, aggregate_word,
// group_entities, group_sub_entities, get_tag and the ignore_labels=["O"]
// filter), written from that code's documented algorithm, to derive golden
// entity lists for nerc's aggregation (tests/test_pipeline_golden.c).
//
// Usage: node tools/hf_pipeline_aggregate.mjs [--words=hf|word-ids]
//            [--shared-char=hf|merge] [--nerc-rules] IN.jsonl OUT.jsonl
//
// IN: one JSON object per text, every token of its encoding in order
// (specials included):
//   {"id": any, "text": str, "ids": [int], "tokens": [str] (convert_ids_to_tokens),
//    "offsets": [[start, end]] (code points of text), "special": [0|1]
//    (special_tokens_mask), "scores": [[float] | null] (float32 softmax rows, 9
//    significant digits are exact; null for specials), "word_ids": [int|null], "labels": [str] (id2label),
//    "unk_id": int, "continuing_subword_prefix": str|null}
// OUT: one JSON object per input line, in input order:
//   {"id": ..., "none": [{"entity","score","index","word","start","end"}],
//    "simple"|"first"|"average"|"max": [{"entity_group","score","word","start","end"}]}
//
// Rules. By default everything is HF's: a token is a sub-word when
// len(token) != len(text[start:end]) for tokenizers with a
// continuing_subword_prefix (else the fallback heuristic: start > 0 and no
// space in text[start-1:start+1]); an [UNK] token is never a sub-word and its
// word is the text it covers. Two options replace HF's rules with the ones nerc
// documents in include/nerc/predict.h, so that the differences are explicit:
//   --words=word-ids     a token continues the previous token's word when both
//                        have the same word id (the tokenizer's pre-token index)
//   --shared-char=merge  a token that starts inside the previous token's span
//                        (sub-tokens of one input character, e.g. the jamo of a
//                        Hangul syllable) is no token of its own: NONE and SIMPLE
//                        fold it into the previous token (which keeps its scores
//                        and word and spans both); FIRST, AVERAGE and MAX take it
//                        as a piece of the previous token's word
//   --nerc-rules         both of the above
// Arithmetic follows numpy on float32 where it can change a label: the
// AVERAGE word rows are summed and divided in float32 (Math.fround), as
// np.nanmean does on float32 rows; group scores are plain means.

import { readFileSync, writeFileSync } from 'node:fs';

const STRATEGIES = ['none', 'simple', 'first', 'average', 'max'];
const IGNORE_LABELS = ['O'];

function parseArgs(argv) {
    const opt = { words: 'hf', sharedChar: 'hf', files: [] };
    for (const a of argv) {
        if (a === '--nerc-rules') {
            opt.words = 'word-ids';
            opt.sharedChar = 'merge';
        } else if (a.startsWith('--words=')) {
            opt.words = a.slice(8);
            if (!['hf', 'word-ids'].includes(opt.words)) throw new Error(`bad ${a}`);
        } else if (a.startsWith('--shared-char=')) {
            opt.sharedChar = a.slice(14);
            if (!['hf', 'merge'].includes(opt.sharedChar)) throw new Error(`bad ${a}`);
        } else if (a.startsWith('--')) {
            throw new Error(`unknown option ${a}`);
        } else {
            opt.files.push(a);
        }
    }
    if (opt.files.length !== 2) throw new Error('usage: hf_pipeline_aggregate.mjs [options] IN.jsonl OUT.jsonl');
    return opt;
}

// Python's len(): code points.
const pyLen = (s) => Array.from(s).length;

// numpy argmax: the first index of the maximum.
function argmax(row) {
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    return best;
}

const rowMax = (row) => row[argmax(row)];

// HF's is_subword for one token (before the [UNK] rule).
function hfIsSubword(doc, cps, word, start, end) {
    const wordRef = cps.slice(start, end).join('');
    if (doc.continuing_subword_prefix) return pyLen(word) !== pyLen(wordRef);
    return start > 0 && !cps.slice(start - 1, start + 1).join('').includes(' ');
}

// gather_pre_entities: one record per non-special token. sharesChar: the token
// starts inside the previous token's span (used by --shared-char=merge).
function gatherPreEntities(doc, opt) {
    const cps = Array.from(doc.text);
    const pre = [];
    let prevWordId = null, prevEnd = 0;
    for (let idx = 0; idx < doc.ids.length; idx++) {
        if (doc.special[idx]) continue;
        let word = doc.tokens[idx];
        const [start, end] = doc.offsets[idx];
        let isSubword;
        if (opt.words === 'word-ids') isSubword = pre.length > 0 && doc.word_ids[idx] === prevWordId;
        else isSubword = hfIsSubword(doc, cps, word, start, end);
        if (doc.ids[idx] === doc.unk_id) {
            word = cps.slice(start, end).join('');
            isSubword = false;
        }
        const sharesChar = pre.length > 0 && start < prevEnd;
        prevWordId = doc.word_ids ? doc.word_ids[idx] : null;
        prevEnd = end;
        const row = doc.scores[idx];
        if (!Array.isArray(row) || row.length !== doc.labels.length)
            throw new Error(`id ${doc.id}: token ${idx} has no score row of ${doc.labels.length} labels`);
        const scores = row.map(Math.fround); // float32, as the model's softmax
        pre.push({ word, scores, start, end, index: idx, isSubword, sharesChar });
    }
    return pre;
}

// --shared-char=merge for NONE and SIMPLE: a token sharing a character with the
// previous one is folded into it.
function foldSharedChars(pre) {
    const out = [];
    for (const pe of pre) {
        const last = out[out.length - 1];
        if (pe.sharesChar && last) last.end = Math.max(last.end, pe.end);
        else out.push({ ...pe });
    }
    return out;
}

// --shared-char=merge for FIRST, AVERAGE and MAX: such a token continues the word.
const joinSharedChars = (pre) => pre.map((pe) => ({ ...pe, isSubword: pe.isSubword || pe.sharesChar }));

// The entity of a token (NONE and SIMPLE).
function tokenEntity(pe, labels) {
    const k = argmax(pe.scores);
    return { entity: labels[k], score: pe.scores[k], index: pe.index, word: pe.word, start: pe.start, end: pe.end };
}

// The tokenizer's convert_tokens_to_string for WordPiece (the decoder with
// prefix "##" and cleanup), used only for the "word" field.
function tokensToString(tokens, prefix) {
    const parts = tokens.map((t, i) => {
        let s = t;
        if (i !== 0) s = prefix && s.startsWith(prefix) ? s.slice(prefix.length) : ' ' + s;
        return cleanup(s);
    });
    return parts.join('');
}

function cleanup(s) {
    if (!s.includes(' ')) return s; // every pattern starts with a space
    const pairs = [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"],
        [" 'm", "'m"], [' do not', " don't"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]];
    for (const [a, b] of pairs) s = s.replaceAll(a, b);
    return s;
}

// np.nanmean over stacked float32 rows (axis 0): float32 sums in row order.
function nanmeanRows(rows) {
    const k = rows[0].length, sum = new Array(k).fill(0), cnt = new Array(k).fill(0);
    for (const r of rows)
        for (let j = 0; j < k; j++)
            if (!Number.isNaN(r[j])) {
                sum[j] = Math.fround(sum[j] + Math.fround(r[j]));
                cnt[j]++;
            }
    return sum.map((s, j) => (cnt[j] ? Math.fround(s / cnt[j]) : NaN));
}

// aggregate_word: FIRST / MAX / AVERAGE over the tokens of one word.
function aggregateWord(group, strategy, labels, prefix) {
    const word = tokensToString(group.map((e) => e.word), prefix);
    let k, score;
    if (strategy === 'first') {
        k = argmax(group[0].scores);
        score = group[0].scores[k];
    } else if (strategy === 'max') {
        let best = group[0];
        for (const e of group) if (rowMax(e.scores) > rowMax(best.scores)) best = e; // Python max(): first on ties
        k = argmax(best.scores);
        score = best.scores[k];
    } else if (strategy === 'average') {
        const avg = nanmeanRows(group.map((e) => e.scores));
        k = argmax(avg);
        score = avg[k];
    } else {
        throw new Error(`invalid aggregation strategy ${strategy}`);
    }
    return { entity: labels[k], score, word, start: group[0].start, end: group[group.length - 1].end };
}

// aggregate_words: a word is a token and the sub-word tokens after it.
function aggregateWords(pre, strategy, labels, prefix) {
    const out = [];
    let group = null;
    for (const e of pre) {
        if (group === null) group = [e];
        else if (e.isSubword) group.push(e);
        else {
            out.push(aggregateWord(group, strategy, labels, prefix));
            group = [e];
        }
    }
    if (group !== null) out.push(aggregateWord(group, strategy, labels, prefix));
    return out;
}

function getTag(name) {
    if (name.startsWith('B-')) return ['B', name.slice(2)];
    if (name.startsWith('I-')) return ['I', name.slice(2)];
    return ['I', name]; // not in B-/I- format: a continuation
}

// group_sub_entities: entity_group = the first label after its first '-'; score = mean.
function groupSubEntities(ents, prefix) {
    const name = ents[0].entity;
    const dash = name.indexOf('-');
    const scores = ents.map((e) => e.score).filter((s) => !Number.isNaN(s));
    return {
        entity_group: dash < 0 ? name : name.slice(dash + 1),
        score: scores.reduce((a, b) => a + b, 0) / scores.length,
        word: tokensToString(ents.map((e) => e.word), prefix),
        start: ents[0].start,
        end: ents[ents.length - 1].end,
    };
}

// group_entities: adjacent entities of the same tag join unless the newer is a B-.
function groupEntities(ents, prefix) {
    const groups = [];
    let cur = [];
    for (const e of ents) {
        if (cur.length === 0) {
            cur.push(e);
            continue;
        }
        const [bi, tag] = getTag(e.entity);
        const [, lastTag] = getTag(cur[cur.length - 1].entity);
        if (tag === lastTag && bi !== 'B') cur.push(e);
        else {
            groups.push(groupSubEntities(cur, prefix));
            cur = [e];
        }
    }
    if (cur.length) groups.push(groupSubEntities(cur, prefix));
    return groups;
}

// aggregate + the ignore_labels filter of postprocess.
function entitiesFor(pre, strategy, labels, prefix, opt) {
    const merge = opt.sharedChar === 'merge';
    let ents;
    if (strategy === 'none' || strategy === 'simple')
        ents = (merge ? foldSharedChars(pre) : pre).map((pe) => tokenEntity(pe, labels));
    else ents = aggregateWords(merge ? joinSharedChars(pre) : pre, strategy, labels, prefix);
    if (strategy !== 'none') ents = groupEntities(ents, prefix);
    return ents.filter((e) => !IGNORE_LABELS.includes(e.entity) && !IGNORE_LABELS.includes(e.entity_group));
}

function processDoc(doc, opt) {
    const pre = gatherPreEntities(doc, opt);
    const out = { id: doc.id };
    for (const s of STRATEGIES) out[s] = entitiesFor(pre, s, doc.labels, doc.continuing_subword_prefix, opt);
    return out;
}

function main() {
    const opt = parseArgs(process.argv.slice(2));
    const lines = readFileSync(opt.files[0], 'utf8').split('\n').filter((l) => l.length > 0);
    const out = lines.map((l, i) => {
        let doc;
        try {
            doc = JSON.parse(l);
        } catch (e) {
            throw new Error(`${opt.files[0]}:${i + 1}: ${e.message}`);
        }
        return JSON.stringify(processDoc(doc, opt));
    });
    writeFileSync(opt.files[1], out.join('\n') + (out.length ? '\n' : ''));
}

try {
    main();
} catch (e) {
    process.stderr.write(`hf_pipeline_aggregate: ${e.message}\n`);
    process.exit(1);
}
