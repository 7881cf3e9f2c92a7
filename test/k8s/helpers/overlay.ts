// The observability overlay (k8s/overlays/observability) rendered the way kind-up.sh applies it, and the files it
// is made of. Rendering is offline: `kubectl kustomize` never contacts a cluster.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { K8S_DIR, ROOT, parseDocuments, type K8sObject } from './manifests.ts';

export const OVERLAY_DIR = join(K8S_DIR, 'overlays/observability');
/** The overlay lists the guide's files one by one, outside its folder (see its kustomization.yaml). */
export const KUSTOMIZE_ARGS = ['kustomize', '--load-restrictor=LoadRestrictionsNone'];

export function renderDir(dir: string): K8sObject[] {
  const text = execFileSync('kubectl', [...KUSTOMIZE_ARGS, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseDocuments(text, `kubectl kustomize ${dir}`);
}

export const renderOverlay = (): K8sObject[] => renderDir(OVERLAY_DIR);

export const readOverlayFile = (path: string): string => readFileSync(join(OVERLAY_DIR, path), 'utf8');
export const readRepoFile = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
export const parseOverlayYaml = <T>(path: string): T => parse(readOverlayFile(path)) as T;

export function deployments(objects: readonly K8sObject[]): IDeployment[] {
  return objects.filter((o) => o.kind === 'Deployment') as unknown as IDeployment[];
}

/** A container port by number or by name. */
export function resolvePort(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return (container.ports ?? []).find((p) => p.name === port)?.containerPort;
}

/** The port of a `host:port` or `http://host:port` address. */
export function hostPort(address: string): { host: string; port: number } {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  return { host: url.hostname, port: Number(url.port) };
}

export interface Pipeline {
  receivers: string[];
  processors?: string[];
  exporters: string[];
}
export interface CollectorConfig {
  receivers?: Record<string, any>;
  processors?: Record<string, any>;
  exporters?: Record<string, any>;
  connectors?: Record<string, any>;
  extensions?: Record<string, any>;
  service: { extensions?: string[]; pipelines: Record<string, Pipeline> };
}

export const typeOf = (id: string): string => id.split('/')[0]!;
