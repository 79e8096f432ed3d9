/**
 * Dependency-injection tokens of the API. The read model is the port's own token (its module
 * builds it in the service; tests hand one in); the configuration is the `api` namespace
 * (apiConfig.KEY from @meterstream/config/nest).
 */
export { READ_MODEL } from '@meterstream/service-modules';
/** `() => epoch ms`: the default time ranges end "now", and tests pin it. */
export const CLOCK = Symbol('Clock');
/** Where operators' alert commands go (AlertCommandSink: the `alert-commands` stream). */
export const ALERT_COMMANDS = Symbol('AlertCommands');

export type Clock = () => number;
