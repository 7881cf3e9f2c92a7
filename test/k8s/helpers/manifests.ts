// Loads the Kubernetes manifests of k8s/ the two ways a user applies them: file by file in the guide's order
// (`kubectl apply -f k8s/<file>`) and all at once through kustomize (`kubectl kustomize k8s`, offline only).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const K8S_DIR = join(ROOT, 'k8s');

export const NAMESPACE = 'ai-ml-lab-2-2';
export const APP = 'ai-lab-2-2-paid';
export const COLLECTOR = 'otel-collector';
export const COLLECTOR_CONFIG = 'otel-collector-config';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

/** Parses every YAML document of a string; throws on any YAML error or on a document that is not an object. */
export function parseDocuments(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${source}: a document is not a mapping`);
    const obj = value as K8sObject;
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
      throw new Error(`${source}: a document lacks apiVersion, kind or metadata.name`);
    }
    out.push(obj);
  }
  return out;
}

/** The `resources:` of k8s/kustomization.yaml, in order. */
export function kustomizationResources(): string[] {
  const k = parse(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as { resources?: unknown };
  if (!Array.isArray(k.resources) || !k.resources.every((r) => typeof r === 'string')) {
    throw new Error('k8s/kustomization.yaml has no list of resources');
  }
  return k.resources as string[];
}

export interface ManifestFile {
  readonly file: string;
  readonly objects: K8sObject[];
}

/** Every file kustomization.yaml lists, parsed, in its order. */
export function loadFiles(): ManifestFile[] {
  return kustomizationResources().map((file) => ({
    file,
    objects: parseDocuments(readFileSync(join(K8S_DIR, file), 'utf8'), `k8s/${file}`),
  }));
}

export function loadObjects(): K8sObject[] {
  return loadFiles().flatMap((f) => f.objects);
}

export function kubectlAvailable(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
}

/** `kubectl kustomize k8s`: renders locally, never contacts a cluster. */
export function renderKustomize(): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', K8S_DIR], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseDocuments(text, 'kubectl kustomize k8s');
}

export const key = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export function findObject(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} ${name}, found ${found.length}`);
  return found[0]!;
}

export const deployment = (objects: readonly K8sObject[], name: string): IDeployment =>
  findObject(objects, 'Deployment', name) as unknown as IDeployment;
export const service = (objects: readonly K8sObject[], name: string): IService =>
  findObject(objects, 'Service', name) as unknown as IService;
export const configMap = (objects: readonly K8sObject[], name: string): IConfigMap =>
  findObject(objects, 'ConfigMap', name) as unknown as IConfigMap;

/** Pods a Deployment may add above its replicas during a rollout (`maxSurge`, default 25% rounded up; 0 for Recreate). */
export function surge(d: IDeployment): number {
  const s = d.spec?.strategy;
  if (s?.type === 'Recreate') return 0;
  const v = s?.rollingUpdate?.maxSurge ?? '25%';
  const replicas = d.spec?.replicas ?? 1;
  return typeof v === 'number' ? v : Math.ceil((replicas * Number(v.replace('%', ''))) / 100);
}

/** A kubernetes-models class: validates one object of its kind against the Kubernetes OpenAPI schema. */
export type ModelClass = { new (data: never): { validate(): void }; apiVersion: string; kind: string };

/** Validates an object with the model of its kind; an object of a kind with no model in the list fails. */
export function validateSchema(obj: K8sObject, models: readonly ModelClass[]): void {
  const Model = models.find((m) => m.kind === obj.kind);
  if (Model === undefined) throw new Error(`${key(obj)}: no schema registered for kind ${obj.kind}`);
  assert.equal(obj.apiVersion, Model.apiVersion, `${key(obj)}: apiVersion`);
  new Model(structuredClone(obj) as never).validate();
}

export function onlyContainer(d: IDeployment): IContainer {
  const containers = d.spec?.template.spec?.containers ?? [];
  if (containers.length !== 1) throw new Error(`${d.metadata?.name}: expected one container, found ${containers.length}`);
  return containers[0]!;
}

/** Kubernetes quantities as numbers: CPU in cores, memory in bytes. Handles the suffixes the manifests use. */
export function quantity(value: string | number | undefined): number {
  if (value === undefined) throw new Error('missing quantity');
  if (typeof value === 'number') return value;
  const m = /^([0-9.]+)(m|k|M|G|Ki|Mi|Gi|Ti)?$/.exec(value);
  if (!m) throw new Error(`unsupported quantity ${value}`);
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const factor: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  // Milli by division: 350m is 0.35 exactly as a double, not 350 x 0.001 = 0.35000000000000003.
  return unit === 'm' ? n / 1e3 : n * factor[unit]!;
}

/** The environment a container gets from its `env` and `envFrom` ConfigMaps, as the kubelet builds it. */
export function containerEnvironment(container: IContainer, objects: readonly K8sObject[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef === undefined) throw new Error('only envFrom.configMapRef is supported here');
    const cm = configMap(objects, from.configMapRef.name ?? '');
    for (const [k, v] of Object.entries(cm.data ?? {})) env[(from.prefix ?? '') + k] = v;
  }
  for (const e of container.env ?? []) {
    if (e.value === undefined) throw new Error(`env ${e.name} uses valueFrom; resolve it explicitly in the test`);
    env[e.name] = e.value;
  }
  return env;
}
