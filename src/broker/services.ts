import type { LogManager } from '../storage/log-manager.ts';
import type { BrokerConfig } from './config.ts';
import type { GroupCoordinator } from './group/coordinator.ts';
import type { Logger } from './logger.ts';
import type { Router } from './router.ts';
import type { FetchSessionCache } from './services/fetch-sessions.ts';
import type { ReplicaManager } from './services/replica-manager.ts';
import type { TopicManager } from './services/topic-manager.ts';
import type { TransactionCoordinator } from './txn/coordinator.ts';

/** What handlers may use: the broker's services, never its files or sockets directly. */
export interface BrokerServices {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly clusterId: string;
  readonly nodeId: number;
  /** The host and port clients are told to connect to. */
  readonly advertised: { host: string; port: number };
  readonly router: Router;
  readonly topics: TopicManager;
  readonly logs: LogManager;
  /** The data path: produce, fetch (long poll), offsets, leader epochs. */
  readonly replicas: ReplicaManager;
  /** Incremental fetch sessions (KIP-227). */
  readonly fetchSessions: FetchSessionCache;
  /** Consumer groups and committed offsets (classic and KIP-848), kept in `__consumer_offsets`. */
  readonly groups: GroupCoordinator;
  /** Producer ids and transactions, kept in `__transaction_state`. */
  readonly transactions: TransactionCoordinator;
}
