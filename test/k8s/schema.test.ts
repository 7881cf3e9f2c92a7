// Every object is validated against the Kubernetes OpenAPI schema shipped by kubernetes-models (generated from
// Kubernetes 1.34+, which has `fileKeyRef` and `podCertificate`, so it covers the kind node's v1.35 fields we use).
// It checks types, enums, required fields and quantity formats; it does not reject unknown fields.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { LimitRange } from 'kubernetes-models/v1/LimitRange';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ResourceQuota } from 'kubernetes-models/v1/ResourceQuota';
import { Service } from 'kubernetes-models/v1/Service';
import { APP, deployment, key, loadObjects, validateSchema, type K8sObject, type ModelClass } from './helpers/manifests.ts';

const MODELS: readonly ModelClass[] = [Namespace, ResourceQuota, LimitRange, ConfigMap, Service, Deployment, NetworkPolicy] as never;
const validate = (obj: K8sObject): void => validateSchema(obj, MODELS);

describe('the manifests validate against the Kubernetes OpenAPI schemas', () => {
  const objects = loadObjects();

  for (const obj of objects) {
    it(`${key(obj)} is valid`, () => {
      validate(obj);
    });
  }

  it('rejects a Deployment whose port is not a number or whose pull policy does not exist', () => {
    const broken = structuredClone(deployment(objects, APP)) as unknown as K8sObject;
    const container = (broken as unknown as ReturnType<typeof deployment>).spec!.template.spec!.containers[0]!;
    (container.ports![0] as { containerPort: unknown }).containerPort = '9000';
    assert.throws(() => validate(broken), /containerPort must be integer/);
    (container.ports![0] as { containerPort: unknown }).containerPort = 9000;
    (container as { imagePullPolicy: string }).imagePullPolicy = 'Sometimes';
    assert.throws(() => validate(broken), /imagePullPolicy/);
  });
});
