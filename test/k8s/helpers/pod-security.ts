// The Pod Security Standards' `restricted` profile (Kubernetes v1.35), which includes `baseline`, as a pure
// function over a pod spec. Returns one message per violation; an empty list means the pod would be admitted by
// a namespace labelled pod-security.kubernetes.io/enforce=restricted.
// https://kubernetes.io/docs/concepts/security/pod-security-standards/
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

const RESTRICTED_VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
const BASELINE_CAPABILITIES = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];
const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];

export function restrictedViolations(pod: IPodSpec): string[] {
  const out: string[] = [];
  const containers: { kind: string; c: IContainer }[] = [
    ...(pod.initContainers ?? []).map((c) => ({ kind: 'initContainer', c })),
    ...pod.containers.map((c) => ({ kind: 'container', c })),
    ...(pod.ephemeralContainers ?? []).map((c) => ({ kind: 'ephemeralContainer', c: c as IContainer })),
  ];
  const podSc = pod.securityContext ?? {};

  // baseline
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push('host namespaces (hostNetwork/hostPID/hostIPC) are not allowed');
  for (const v of pod.volumes ?? []) {
    const types = Object.keys(v).filter((k) => k !== 'name');
    for (const t of types) if (!RESTRICTED_VOLUME_TYPES.includes(t)) out.push(`volume ${v.name} has type ${t}`);
  }
  for (const s of podSc.sysctls ?? []) if (!SAFE_SYSCTLS.includes(s.name)) out.push(`sysctl ${s.name} is not allowed`);
  if (podSc.appArmorProfile?.type === 'Unconfined') out.push('pod AppArmor profile Unconfined');
  if (podSc.seLinuxOptions?.user || podSc.seLinuxOptions?.role) out.push('pod seLinuxOptions user/role are not allowed');

  // restricted, pod level
  const podNonRoot = podSc.runAsNonRoot === true;
  const podSeccomp = podSc.seccompProfile?.type;
  if (podSeccomp !== undefined && !['RuntimeDefault', 'Localhost'].includes(podSeccomp)) out.push(`pod seccompProfile ${podSeccomp}`);
  if (podSc.runAsUser === 0) out.push('pod runAsUser 0');

  for (const { kind, c } of containers) {
    const where = `${kind} ${c.name}`;
    const sc = c.securityContext ?? {};
    if (sc.privileged) out.push(`${where}: privileged`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`${where}: procMount ${sc.procMount}`);
    if (sc.appArmorProfile?.type === 'Unconfined') out.push(`${where}: AppArmor Unconfined`);
    if (sc.seLinuxOptions?.user || sc.seLinuxOptions?.role) out.push(`${where}: seLinuxOptions user/role`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${where}: hostPort ${p.hostPort}`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation must be false`);
    if (sc.runAsNonRoot === false || (!podNonRoot && sc.runAsNonRoot !== true)) out.push(`${where}: runAsNonRoot must be true`);
    if (sc.runAsUser === 0) out.push(`${where}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp === undefined || !['RuntimeDefault', 'Localhost'].includes(seccomp)) {
      out.push(`${where}: seccompProfile must be RuntimeDefault or Localhost (pod or container)`);
    }
    const caps = sc.capabilities ?? {};
    if (!(caps.drop ?? []).includes('ALL')) out.push(`${where}: capabilities must drop ALL`);
    for (const cap of caps.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') out.push(`${where}: adds capability ${cap}`);
      if (!BASELINE_CAPABILITIES.includes(cap)) out.push(`${where}: capability ${cap} is not even baseline`);
    }
  }
  return out;
}
