from django.core.management.base import BaseCommand

from demo.review import review_demo_build


class Command(BaseCommand):
    help = "Add photo events with boxes and ranked candidates to the demo, for the review page."

    def handle(self, *args, **options) -> None:
        count = review_demo_build(log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"{count} sightings waiting for review."))
