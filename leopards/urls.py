from django.urls import path

from leopards.views import catalogue, media, review, second_opinion

app_name = "leopards"

urlpatterns = [
    path("review/", review.review_queue, name="review-queue"),
    path("review/events/<int:pk>/", review.event_review, name="event-review"),
    path("review/events/<int:pk>/claim/", review.event_claim, name="event-claim"),
    path("review/events/<int:pk>/release/", review.event_release, name="event-release"),
    path("review/events/<int:pk>/skip/", review.event_skip, name="event-skip"),
    path("review/events/<int:pk>/classify/", review.event_classify, name="event-classify"),
    path("review/events/<int:pk>/finish/", review.event_finish, name="event-finish"),
    path("review/sightings/<int:pk>/", review.sighting_identify, name="sighting-identify"),
    path("review/mother/", review.mother_link, name="mother-link"),
    path("sightings/<int:pk>/crop", media.sighting_crop, name="sighting-crop"),
    path("leopards/", catalogue.leopard_list, name="leopard-list"),
    path("leopards/link-flanks/", catalogue.leopard_link_flanks, name="leopard-link-flanks"),
    path("leopards/changes/<int:pk>/undo/", catalogue.change_undo, name="change-undo"),
    path("leopards/<str:code>/", catalogue.leopard_detail, name="leopard-detail"),
    path("leopards/<str:code>/edit/", catalogue.leopard_edit, name="leopard-edit"),
    path("leopards/<str:code>/merge/", catalogue.leopard_merge, name="leopard-merge"),
    path("leopards/<str:code>/split/", catalogue.leopard_split, name="leopard-split"),
    path("second-opinion/", second_opinion.second_opinion_queue, name="second-opinion-queue"),
    path(
        "second-opinion/agreement/",
        second_opinion.second_opinion_agreement,
        name="second-opinion-agreement",
    ),
    path(
        "second-opinion/<int:pk>/",
        second_opinion.second_opinion_check,
        name="second-opinion-check",
    ),
]
