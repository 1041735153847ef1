import sessions from 'redis-sessions';

/** redis-sessions is CommonJS with `exports.default`: from ESM its class sits one level down. */
export const RedisSessions = sessions.default;
