import type { Clock, Log, Transport, VendorId } from '../domain';
import type { KeyHealthStore } from '../health/key-health';
import type { KeyLease } from '../keys/key-lease';
import type { KeyPools } from '../keys/pools';

/** The fleet-wide key state, as probes use it (`SharedKeyState` implements it). */
export interface FleetKeyState {
  /** A full read of the vendor's state (awaited: a probe decides on fresh knowledge). */
  refreshVendor(vendor: VendorId): Promise<void>;
  /** Lifts the disables learnt before `asOf`, here and fleet-wide. */
  reenable(vendor: VendorId, lease: KeyLease, asOf: number): Promise<boolean>;
  /** Waits for publications in flight (the disables a run made). */
  settle(): Promise<void>;
}

export interface ProbeDeps {
  pools: KeyPools;
  /** Absent with KEY_STATE_SHARING=off: what probes learn stays in this instance. */
  fleet?: FleetKeyState;
  store: KeyHealthStore;
  transport: Transport;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  log: Log;
}

export interface ProbeSettings {
  /** One probe call's time-out. */
  timeoutMs: number;
  /** The whole run's: no probe starts after it (keys left over go first next run). */
  budgetMs: number;
}
