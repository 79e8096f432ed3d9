import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidateBy, type ValidationArguments } from 'class-validator';
import { parseTimeParam } from './time';

/**
 * Decorators for query parameters. Each one converts the raw string when it can and otherwise
 * leaves it as it came, so the validation message can quote exactly what the client sent.
 */

const got = (args: ValidationArguments) => `got ${JSON.stringify(args.value)}`;

/** An ISO-8601 time or epoch milliseconds, converted to epoch ms. */
export function IsTimeParam(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => parseTimeParam(value) ?? value),
    ValidateBy({
      name: 'isTimeParam',
      validator: {
        validate: (value: unknown) => typeof value === 'number',
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} must be an ISO-8601 time (e.g. 2026-11-29T05:00:00Z) or epoch milliseconds, ${args ? got(args) : ''}`,
      },
    }),
  );
}

/** A whole number in [min, max], converted to a number. */
export function IsIntParam(min: number, max: number): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d{1,16}$/.test(value.trim()) ? Number(value) : value)),
    ValidateBy({
      name: 'isIntParam',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max,
        defaultMessage: (args?: ValidationArguments) => `${args?.property} must be an integer from ${min} to ${max}, ${args ? got(args) : ''}`,
      },
    }),
  );
}

/** One of a fixed set of words. */
export function IsOneOfParam(values: readonly string[]): PropertyDecorator {
  return ValidateBy({
    name: 'isOneOfParam',
    constraints: [values],
    validator: {
      validate: (value: unknown) => typeof value === 'string' && values.includes(value),
      defaultMessage: (args?: ValidationArguments) => `${args?.property} must be one of ${values.join(', ')}, ${args ? got(args) : ''}`,
    },
  });
}

/** The length bounds IsIdParam enforces, for the OpenAPI document. */
export const ID_PARAM_LENGTH = { minLength: 1, maxLength: 200 } as const;

/** A single non-empty identifier such as a line or meter id (a repeated parameter arrives as an array). */
export function IsIdParam(example: string): PropertyDecorator {
  return ValidateBy({
    name: 'isIdParam',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && value.length >= ID_PARAM_LENGTH.minLength && value.length <= ID_PARAM_LENGTH.maxLength,
      defaultMessage: (args?: ValidationArguments) =>
        `${args?.property} must be one non-empty id (at most 200 characters) such as ${example}, ${args ? got(args) : ''}`,
    },
  });
}
