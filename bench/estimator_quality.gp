# Curves for bench/RESULTS.md from bench/estimator_quality.csv (written by estimator_quality).
# Run from the repository root: gnuplot bench/estimator_quality.gp
set datafile separator ','
set terminal pngcairo size 1500,900 font ',10'
set logscale x 2
set key bottom right
set grid
games = 'table12 pairwise90 interaction90'
method(i) = (i == 1 ? 'permutation' : i == 2 ? 'ssv-left (CoKV ref.)' : i == 3 ? 'ssv (both sides)' : i == 4 ? 'regression-ssv' : 'regression-shapley')
do for [g in games] {
  set output sprintf('bench/estimator_quality_%s.png', g)
  set multiplot layout 1,3 title sprintf('%s: quality vs utility evaluations (mean over seeds)', g)
  set xlabel 'utility evaluations'
  set ylabel 'Spearman to true SSV'
  set yrange [*:1]
  plot for [i=1:5] 'bench/estimator_quality.csv' using (strcol(1) eq g && strcol(2) eq method(i) ? $4 : 1/0):6 with linespoints title method(i)
  set ylabel 'Spearman to true Shapley'
  plot for [i=1:5] 'bench/estimator_quality.csv' using (strcol(1) eq g && strcol(2) eq method(i) ? $4 : 1/0):7 with linespoints title method(i)
  set ylabel 'relative RMSE to own target'
  set logscale y
  set yrange [*:*]
  plot for [i=1:5] 'bench/estimator_quality.csv' using (strcol(1) eq g && strcol(2) eq method(i) ? $4 : 1/0):5 with linespoints title method(i)
  unset logscale y
  unset multiplot
}
