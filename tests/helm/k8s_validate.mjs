// Validates rendered Kubernetes objects offline against the API schemas
// that the kubernetes-models package ships.
//
// Two checks per object:
//  - the model's validate(): types, required fields, enums;
//  - unknown fields.  The schemas allow extra properties, but the API
//    server refuses them (kubectl's strict field validation), and a
//    misspelt field such as "readinesProbe" would otherwise pass.  The
//    validator reads every property its schema knows, so a property it
//    never reads is one the schema does not know.
//
// As a command: node k8s_validate.mjs FILE.yaml...  (exit 1 on an error)

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cache = new URL('./.cache/', import.meta.url);
const require = createRequire(new URL('package.json', cache));
const YAML = require('yaml');

// "apps/v1" -> kubernetes-models/apps/v1/<Kind>; "v1" -> .../v1/<Kind>.
function modelFor(apiVersion, kind) {
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion) || !/^[A-Z]\w*$/.test(kind))
    throw new Error(`not a Kubernetes type: ${apiVersion} ${kind}`);
  let mod;
  try {
    mod = require(`kubernetes-models/${apiVersion}/${kind}`);
  } catch {
    throw new Error(`no schema for ${apiVersion} ${kind}`);
  }
  return mod[kind];
}

// Wraps 'value' so that every own property read is marked in 'seen'.
function track(value, path, seen) {
  if (value === null || typeof value !== 'object') return value;
  if (!Array.isArray(value))
    for (const k of Object.keys(value))
      if (!seen.has(`${path}.${k}`)) seen.set(`${path}.${k}`, false);
  return new Proxy(value, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !Object.hasOwn(target, key)) return v;
      const p = Array.isArray(target) ? `${path}[${key}]` : `${path}.${key}`;
      if (!Array.isArray(target)) seen.set(p, true);
      return track(v, p, seen);
    },
  });
}

// Returns a list of error strings for one object; empty when valid.
export function validateObject(obj) {
  const what = `${obj?.kind ?? '?'} ${obj?.metadata?.name ?? '?'}`;
  let Model;
  try {
    Model = modelFor(obj?.apiVersion, obj?.kind);
  } catch (e) {
    return [`${what}: ${e.message}`];
  }
  const model = new Model(obj);
  try {
    model.validate();
  } catch (e) {
    return [`${what}: ${e.message}`];
  }
  const seen = new Map([['.apiVersion', true], ['.kind', true]]);
  model.validate.call(track(model.toJSON(), '', seen));
  return [...seen]
    .filter(([, read]) => !read)
    .map(([p]) => `${what}: unknown field ${p.slice(1)}`);
}

// Parses a multi-document YAML stream as the API machinery does (YAML
// 1.1: 0440 is octal) and drops empty documents.
export function parseObjects(text) {
  const docs = YAML.parseAllDocuments(text, { version: '1.1' });
  for (const d of docs)
    if (d.errors.length) throw new Error(`bad YAML: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS()).filter((o) => o != null);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let bad = 0;
  for (const file of process.argv.slice(2)) {
    for (const obj of parseObjects(readFileSync(file, 'utf8'))) {
      for (const err of validateObject(obj)) {
        console.error(`${file}: ${err}`);
        bad++;
      }
    }
  }
  process.exit(bad ? 1 : 0);
}
