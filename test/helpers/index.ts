export * from './redis-server.js';
export * from './store.js';
