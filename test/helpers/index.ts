export * from './client-options.js';
export * from './cluster-slot.js';
export * from './redis-cluster.js';
export * from './redis-sentinel.js';
export * from './redis-server.js';
export * from './store.js';
export * from './verify-load.js';
