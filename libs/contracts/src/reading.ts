/** A reading after validation and normalisation: the `body` of a `reading` envelope. */
export interface Reading {
  deviceId: string;
  lineId: string;
  /** Event time, normalised to ISO-8601 UTC with milliseconds. */
  ts: string;
  /** Volts, 120 V base. */
  voltage: number;
  /** Amperes. */
  current?: number;
  powerFactor?: number;
  /** Kilowatts. */
  kw?: number;
  /** Cumulative kilowatt-hours. */
  kwh?: number;
  status?: string;
}

/** One reason a message was rejected: which field, and what to fix. */
export interface FieldError {
  /** Dotted path of the field, or "(payload)" / "(topic)" when the problem is not one field. */
  field: string;
  message: string;
}
