export { Broker, type BrokerOptions } from './broker/broker.ts';
export { BrokerConfig } from './broker/config.ts';
export { type StartBrokerOptions, type StartedBroker, startBroker } from './broker/start-broker.ts';
export * from './client/index.ts';
export * from './protocol/index.ts';
