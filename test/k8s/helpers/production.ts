// The production overlay (k8s/overlays/production) rendered the way kind-up.sh --production applies it, and the
// Collector configs it mounts. Rendering is offline: `kubectl kustomize` never contacts a cluster.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { K8S_DIR, configMap, findObject, type K8sObject } from './manifests.ts';
import { renderDir, typeOf, type CollectorConfig } from './overlay.ts';

export const PRODUCTION_DIR = join(K8S_DIR, 'overlays/production');
export const AGENT = 'otel-agent';
export const GATEWAY = 'otel-gateway';

export const renderProduction = (): K8sObject[] => renderDir(PRODUCTION_DIR);

export const readProductionFile = (path: string): string => readFileSync(join(PRODUCTION_DIR, path), 'utf8');

export const daemonSet = (objects: readonly K8sObject[], name: string): IDaemonSet =>
  findObject(objects, 'DaemonSet', name) as unknown as IDaemonSet;
export const hpa = (objects: readonly K8sObject[], name: string): IHorizontalPodAutoscaler =>
  findObject(objects, 'HorizontalPodAutoscaler', name) as unknown as IHorizontalPodAutoscaler;
export const ofKind = <T>(objects: readonly K8sObject[], kind: string): T[] => objects.filter((o) => o.kind === kind) as unknown as T[];

/** Deployments and DaemonSets: everything that owns pods. */
export type Workload = IDeployment | IDaemonSet;
export const workloads = (objects: readonly K8sObject[]): { kind: string; w: Workload }[] =>
  objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet').map((o) => ({ kind: o.kind, w: o as unknown as Workload }));

/** Whether a label selector (matchLabels only, as the manifests use) selects a set of pod labels. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

export const pdbs = (objects: readonly K8sObject[]): IPodDisruptionBudget[] => ofKind<IPodDisruptionBudget>(objects, 'PodDisruptionBudget');

// The Collector config shape is the same in both overlays; production tests import it from here with the rest.
export { typeOf, type CollectorConfig };

/** The Collector config a workload runs: its --config=<file> argument resolved through its volume to a ConfigMap key. */
export function mountedConfig(objects: readonly K8sObject[], w: Workload): { configMap: string; config: CollectorConfig } {
  const spec = w.spec!.template.spec!;
  const c = spec.containers[0]!;
  const arg = [...(c.command ?? []), ...(c.args ?? [])].find((a) => a.startsWith('--config='));
  if (arg === undefined) throw new Error(`${w.metadata?.name}: no --config=<file>`);
  const file = arg.slice('--config='.length);
  const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(m.mountPath.replace(/\/?$/, '/')));
  if (mount === undefined) throw new Error(`${w.metadata?.name}: nothing is mounted where ${file} is`);
  const name = (spec.volumes ?? []).find((v) => v.name === mount.name)?.configMap?.name;
  if (name === undefined) throw new Error(`${w.metadata?.name}: volume ${mount.name} is not a ConfigMap`);
  const key = file.slice(mount.mountPath.replace(/\/?$/, '/').length);
  const text = configMap(objects, name).data?.[key];
  if (text === undefined) throw new Error(`ConfigMap ${name} has no key ${key}`);
  return { configMap: name, config: parse(text) as CollectorConfig };
}

export function onlyContainerOf(w: Workload): IContainer {
  const containers = w.spec?.template.spec?.containers ?? [];
  if (containers.length !== 1) throw new Error(`${w.metadata?.name}: expected one container, found ${containers.length}`);
  return containers[0]!;
}

/** Go durations as the Collector configs write them (`10s`, `200ms`, `1m`), in seconds. */
export function seconds(duration: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration);
  if (!m) throw new Error(`unsupported duration ${duration}`);
  return Number(m[1]) * { ms: 1e-3, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}
