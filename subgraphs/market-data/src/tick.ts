/**
 * The feed's tick and its wire format live in lib (trading reads the same messages); re-exported for
 * market-data's modules and the generated resolver types' mapper.
 */
export { decodeTick, encodeTick, type Tick } from '../../../lib/market-tick.js';
