// The loopback Bitrix24 portal lives in sandbox/ because `npm start` runs it as the portal simulator;
// tests import it from here.
export * from '../../sandbox/bitrix24-portal.js';
