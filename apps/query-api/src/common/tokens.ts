/** Dependency-injection tokens for what the launcher hands the API. */
export const READ_MODEL = Symbol('ReadModel');
export const API_CONFIG = Symbol('ApiConfig');
/** `() => epoch ms`: the default time ranges end "now", and tests pin it. */
export const CLOCK = Symbol('Clock');
/** Where operator-caused alert events go (AlertEventSink: the alerts stream). */
export const ALERT_EVENTS = Symbol('AlertEvents');

export type Clock = () => number;
