#!/bin/sh
# `rasa test nlu` on the held-out files (nlu_data/test) for the shipped pipeline (config.yml, the
# trained models/rasa/hotline.tar.gz) and for DIET (benchmarks/config_diet.yml, trained here).
# Reports land in results/nlu-shipped and results/nlu-diet.
set -e
cd "$(dirname "$0")/.."
RASA=".venv/bin/rasa"
$RASA test nlu --nlu nlu_data/test --model models/rasa/hotline.tar.gz --out results/nlu-shipped
$RASA train nlu --config benchmarks/config_diet.yml --nlu nlu_data/train --out results/diet-model --fixed-model-name diet
$RASA test nlu --nlu nlu_data/test --model results/diet-model/diet.tar.gz --out results/nlu-diet
.venv/bin/python benchmarks/nlu_summary.py results/nlu-shipped results/nlu-diet
