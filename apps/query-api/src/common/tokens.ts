/** Dependency-injection tokens for what the launcher hands the API. */
export const READ_MODEL = Symbol('ReadModel');
export const API_CONFIG = Symbol('ApiConfig');
/** `() => epoch ms`: the default time ranges end "now", and tests pin it. */
export const CLOCK = Symbol('Clock');

export type Clock = () => number;
