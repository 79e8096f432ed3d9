export * from './config';
export * from './namespaces';
export { mqttTlsOptions, type MqttTlsOptions } from './mqtt-tls';
