/**
 * @forgetless/loggers: training logs for `trainContinual`. Browser-safe: the TensorBoard event and
 * TFRecord encoders, the CSV and JSON Lines formatters, the progress logger and the plugin, and an
 * in-memory sink. File sinks (TensorBoard event files, CSV, JSON Lines) are in `./node`.
 */
export { crc32c, maskedCrc32c } from './crc32c.js';
export { FILE_VERSION, fileVersionRecord, histogramRecord, scalarRecord } from './event.js';
export { DEFAULT_BUCKETS, type Histogram, histogram } from './histogram.js';
export { CSV_COLUMNS, csvCell, csvHeader, csvLine, jsonLine } from './lines.js';
export { type ProgressLogger, type ProgressLoggerOptions, progressLogger } from './logger.js';
export { type ImportanceSource, type LoggerPlugin, type LoggerPluginOptions, importancesOf, loggerPlugin } from './plugin.js';
export { type HistogramEntry, type LogEntry, type LogSink, type ProgressEntry, type ScalarEntry, type TaskMetrics, memorySink, teeSink } from './sink.js';
export { tfRecord } from './tfrecord.js';
