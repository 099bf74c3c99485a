# Reference results for the outbreak detectors in smartcare/knowledge/surveillance, computed by the reference
# implementation, the R package surveillance, on the project's own test series.
#
# Made with:   Rscript tests/knowledge/surveillance/reference/make_reference.R
#              (from the repository root, after `python tests/knowledge/surveillance/reference/make_series.py`)
# Versions:    R version 4.2.2 Patched (2022-11-10 r83330), surveillance 1.20.3 (Debian's r-cran-surveillance)
#
# cases.csv lists each case: the method, the series, its frequency and the parameters that differ from the
# method's defaults, named as in SmartCare's registry (smartcare/knowledge/surveillance/methods.py). This script
# maps them to R's control lists. Where SmartCare's defaults differ from R's (noufaily: Noufaily et al.'s advised
# settings; cusum: R has no default training period) they are set here. It writes results/<case>.csv with one row
# per period judged: index (1-based), upper, alarm (1/0, NA where R gives none), expected and score (NA where R's
# function does not report them), numbers to 17 significant digits.

suppressPackageStartupMessages(library(surveillance))

script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
here <- dirname(normalizePath(script))
dir.create(file.path(here, "results"), showWarnings = FALSE)

parse_params <- function(text) {
  if (is.na(text) || text == "") return(list())
  pairs <- strsplit(strsplit(text, ";", fixed = TRUE)[[1]], "=", fixed = TRUE)
  setNames(lapply(pairs, `[`, 2), vapply(pairs, `[`, "", 1))
}
num <- function(p, name, default) if (is.null(p[[name]])) default else as.numeric(p[[name]])
flag <- function(p, name, default) if (is.null(p[[name]])) default else p[[name]] == "true"
text <- function(p, name, default) if (is.null(p[[name]])) default else p[[name]]

fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

write_result <- function(case, index, upper, alarm, expected = NA, score = NA) {
  n <- length(index)
  out <- data.frame(index = index, upper = fmt(as.numeric(upper)),
                    alarm = ifelse(is.na(alarm), "NA", as.integer(as.logical(alarm))),
                    expected = fmt(rep_len(as.numeric(expected), n)), score = fmt(rep_len(as.numeric(score), n)))
  write.csv(out, file.path(here, "results", paste0(case, ".csv")), row.names = FALSE, quote = FALSE)
}

run_ears <- function(x, freq, method, p) {
  s <- sts(observed = matrix(x, ncol = 1), frequency = freq, start = c(2015, 1))
  control <- list(method = method, baseline = num(p, "baseline", 7), minSigma = num(p, "min_sigma", 0))
  if (!is.null(p$alpha)) control$alpha <- as.numeric(p$alpha)
  res <- earsC(s, control = control)
  list(index = res@control$range, upper = res@upperbound[, 1], alarm = res@alarm[, 1])
}

run_cusum <- function(x, freq, p) {
  d <- create.disProg(week = seq_along(x), observed = x, state = rep(0, length(x)), freq = freq, start = c(2015, 1))
  training <- num(p, "training", freq)
  range <- (training + 1):length(x)
  control <- list(range = range, k = num(p, "k", 1.04), h = num(p, "h", 2.26), trans = text(p, "trans", "standard"),
                  alpha = num(p, "alpha", 0.1))
  m <- text(p, "m", "mean")
  if (m == "glm") control$m <- "glm" else if (m != "mean") control$m <- as.numeric(m)
  res <- algo.cusum(d, control = control)
  list(index = range, upper = res$upperbound, alarm = res$alarm, expected = rep_len(res$control$m, length(range)),
       score = res$cusum)
}

run_farrington <- function(x, freq, p) {
  d <- create.disProg(week = seq_along(x), observed = x, state = rep(0, length(x)), freq = freq, start = c(2015, 1))
  b <- num(p, "b", 5); w <- num(p, "w", 3)
  range <- (b * freq + w + 1):length(x)
  control <- list(range = range, b = b, w = w, reweight = flag(p, "reweight", TRUE), alpha = num(p, "alpha", 0.05),
                  trend = flag(p, "trend", TRUE), limit54 = c(num(p, "limit54_cases", 5), num(p, "limit54_period", 4)),
                  powertrans = text(p, "powertrans", "2/3"))
  res <- algo.farrington(d, control = control)
  list(index = range, upper = res$upperbound, alarm = res$alarm)
}

run_noufaily <- function(x, freq, p) {
  s <- sts(observed = matrix(x, ncol = 1), frequency = freq, start = c(2015, 1))
  b <- num(p, "b", 5); w <- num(p, "w", 3)
  control <- list(range = NULL, b = b, w = w, reweight = flag(p, "reweight", TRUE),
                  weightsThreshold = num(p, "weights_threshold", 2.58), alpha = num(p, "alpha", 0.05),
                  trend = flag(p, "trend", TRUE), pThresholdTrend = num(p, "p_threshold_trend", 1),
                  limit54 = c(num(p, "limit54_cases", 5), num(p, "limit54_period", 4)),
                  powertrans = text(p, "powertrans", "2/3"), noPeriods = num(p, "no_periods", 10),
                  pastWeeksNotIncluded = num(p, "past_weeks_not_included", 26),
                  thresholdMethod = text(p, "threshold_method", "nbPlugin"), glmWarnings = FALSE)
  res <- farringtonFlexible(s, control = control)
  range <- (freq * b + w + 1):length(x)
  list(index = range, upper = res@upperbound[, 1], alarm = res@alarm[, 1],
       expected = res@control$expected[, 1], score = res@control$score[, 1])
}

cases <- read.csv(file.path(here, "cases.csv"), colClasses = "character")
for (i in seq_len(nrow(cases))) {
  row <- cases[i, ]
  x <- read.csv(file.path(here, "series", paste0(row$series, ".csv")))$count
  freq <- as.numeric(row$frequency)
  p <- parse_params(row$params)
  r <- switch(row$method,
              "ears-c1" = run_ears(x, freq, "C1", p), "ears-c2" = run_ears(x, freq, "C2", p),
              "ears-c3" = run_ears(x, freq, "C3", p), "cusum" = run_cusum(x, freq, p),
              "farrington" = run_farrington(x, freq, p), "noufaily" = run_noufaily(x, freq, p),
              stop("unknown method ", row$method))
  write_result(row$case, r$index, r$upper, r$alarm,
               if (is.null(r$expected)) NA else r$expected, if (is.null(r$score)) NA else r$score)
}
cat("Wrote", nrow(cases), "reference results to", file.path(here, "results"), "\n")
