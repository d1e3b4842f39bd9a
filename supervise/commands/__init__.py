"""The `flask report …` and `flask scheduler …` command groups: entry points
on the top floor, like `supervise.cli` and the web, so that the features they
drive (reports, scheduler) never import the services above them."""
